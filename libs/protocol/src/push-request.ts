import { Errors, HeraldError } from './errors';
import { isValidName } from './names';

/** A push as accepted: every field checked and defaulted (defaults live here only). */
export interface PushRequest {
  readonly room: string;
  readonly pushData: Record<string, unknown>;
  readonly apnsName: string | undefined;
  readonly leaveMessage: boolean;
  readonly except: string | undefined;
  /** Hours the message, its report and its inbox entries live. */
  readonly expire: number;
  readonly extra: string | undefined;
}

/** Seed `push_message_expire` (default hours) and `push_message_max_expire`. */
export const DEFAULT_EXPIRE_HOURS = 1;
export const MAX_EXPIRE_HOURS = 10;
/** Seed `apns_payload_size`: APNs refuses payloads above 4 KiB. */
export const APS_DATA_MAX_BYTES = 4000;

const PUSH_FIELDS = new Set(['room', 'pushData', 'apnsName', 'leaveMessage', 'except', 'expire', 'extra']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A boolean flag of the seed API. The seed tested truthiness, so `"false"` meant true; Herald takes
 * real booleans and, for clients that send strings, exactly `"true"` / `"false"`. Anything else is
 * refused rather than guessed.
 */
export function parseFlag(value: unknown): boolean | undefined {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}

/**
 * Checks a push body in the seed's order, so that a body with several problems gets the same message
 * the seed gave (spec/seed-behaviour.md, 002 REST API route 1). `namespaceOffline` is the state of the
 * authenticated namespace, checked where the seed checked it: after `except`, before `expire`.
 */
export function validatePushRequest(body: unknown, namespaceOffline: boolean): PushRequest {
  if (!isPlainObject(body)) throw new HeraldError(Errors.BODY_INVALID, 'body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!PUSH_FIELDS.has(key)) throw new HeraldError(Errors.UNKNOWN_FIELD, key.slice(0, 64));
  }
  const { room, pushData, apnsName, leaveMessage, except, expire, extra } = body;

  if (room === undefined || room === null || room === '') throw new HeraldError(Errors.ROOM_EMPTY);
  if (!isValidName('room', room)) throw new HeraldError(Errors.ROOM_INVALID);
  if (!isPlainObject(pushData)) throw new HeraldError(Errors.PUSH_DATA_INVALID);
  if (except !== undefined && typeof except !== 'string') throw new HeraldError(Errors.EXCEPT_INVALID);
  if (namespaceOffline) throw new HeraldError(Errors.NAMESPACE_OFFLINE);

  let hours = DEFAULT_EXPIRE_HOURS;
  if (expire !== undefined) {
    if (typeof expire !== 'number' || !Number.isFinite(expire) || expire <= 0 || expire > MAX_EXPIRE_HOURS) {
      throw new HeraldError(Errors.EXPIRE_INVALID);
    }
    hours = expire;
  }

  let keep = false;
  if (leaveMessage !== undefined) {
    const flag = parseFlag(leaveMessage);
    if (flag === undefined) throw new HeraldError(Errors.LEAVE_MESSAGE_INVALID);
    keep = flag;
  }
  if (keep && pushData['apsData'] !== undefined) {
    const size = Buffer.byteLength(JSON.stringify(pushData['apsData']) ?? '', 'utf8');
    if (size > APS_DATA_MAX_BYTES) throw new HeraldError(Errors.APS_DATA_TOO_LARGE);
  }
  if (apnsName !== undefined && !isValidName('room', apnsName)) throw new HeraldError(Errors.APNS_NAME_INVALID);
  if (extra !== undefined && typeof extra !== 'string') throw new HeraldError(Errors.EXTRA_INVALID);

  return Object.freeze({
    room,
    pushData,
    apnsName,
    leaveMessage: keep,
    except,
    expire: hours,
    extra,
  });
}

/** The copy of `pushData` that goes to sockets: `apsData` is for APNs only (seed `emit_msg_pick_key`). */
export function publicPushData(pushData: Record<string, unknown>): Record<string, unknown> {
  if (!('apsData' in pushData)) return pushData;
  const { apsData: _omitted, ...rest } = pushData;
  return rest;
}
