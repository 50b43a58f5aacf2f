import { Type, type Static } from '@sinclair/typebox';
import { checkOrder, onError } from './annotations';
import { Errors, HeraldError } from './errors';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from './json-depth';
import { compileRequestCheck } from './request-checks';
import { RoomName } from './schemas';

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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A flag as the seed API took it: a boolean, or exactly `"true"` / `"false"` (parseFlag). */
export const Flag = Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false')]);

/**
 * Body of `POST /api/auth/push` and of the client `push` event, fields in the seed's check order
 * (spec/seed-behaviour.md, 002 REST API route 1), each with the catalogue error the seed answered.
 */
export const PushBody = Type.Object(
  {
    room: Type.String({ ...RoomName, description: 'The room to push to (`user_<userid>` reaches one user).', ...onError({ error: 'ROOM_INVALID', empty: 'ROOM_EMPTY' }) }),
    pushData: Type.Record(Type.String(), Type.Unknown(), { description: 'What clients receive; `apsData` goes to APNs only.', ...onError({ error: 'PUSH_DATA_INVALID' }) }),
    except: Type.Optional(Type.String({ description: 'A clientId that must not receive the push.', ...onError({ error: 'EXCEPT_INVALID' }) })),
    expire: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: MAX_EXPIRE_HOURS, default: DEFAULT_EXPIRE_HOURS, description: 'Hours the message and its report live.', ...onError({ error: 'EXPIRE_INVALID' }) }),
    ),
    leaveMessage: Type.Optional(Type.Union(Flag.anyOf, { description: 'Keep the message in the inbox of offline clients and send it through APNs.', ...onError({ error: 'LEAVE_MESSAGE_INVALID' }) })),
    apnsName: Type.Optional(Type.String({ ...RoomName, description: 'The APNs configuration to use.', ...onError({ error: 'APNS_NAME_INVALID' }) })),
    extra: Type.Optional(Type.String({ description: 'Free text stored with the report.', ...onError({ error: 'EXTRA_INVALID' }) })),
  },
  { additionalProperties: false, ...checkOrder({ unknown: 'UNKNOWN_FIELD' }) },
);
export type PushBody = Static<typeof PushBody>;

const checkPushBody = compileRequestCheck(PushBody, 'body');

/** Errors of the checks that come before the namespace's offline state in the seed's order. */
const BEFORE_OFFLINE: ReadonlySet<string> = new Set(
  [Errors.BODY_INVALID, Errors.UNKNOWN_FIELD, Errors.ROOM_EMPTY, Errors.ROOM_INVALID, Errors.PUSH_DATA_INVALID, Errors.JSON_TOO_DEEP, Errors.EXCEPT_INVALID].map(
    (e) => e.code,
  ),
);
/** Errors of the checks that come before pushData. */
const BEFORE_PUSH_DATA: ReadonlySet<string> = new Set([Errors.BODY_INVALID, Errors.UNKNOWN_FIELD, Errors.ROOM_EMPTY, Errors.ROOM_INVALID].map((e) => e.code));
/** Errors of the checks that come after the apsData size in the seed's order. */
const AFTER_APS_SIZE: ReadonlySet<string> = new Set([Errors.APNS_NAME_INVALID, Errors.EXTRA_INVALID].map((e) => e.code));

function apsDataTooLarge(body: unknown): boolean {
  if (!isPlainObject(body) || parseFlag(body['leaveMessage']) !== true || !isPlainObject(body['pushData'])) return false;
  const apsData = body['pushData']['apsData'];
  if (apsData === undefined) return false;
  return Buffer.byteLength(JSON.stringify(apsData) ?? '', 'utf8') > APS_DATA_MAX_BYTES;
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
  const checked = checkPushBody(body);
  // pushData must be a plain object (a Buffer from a socket payload is an object to JSON Schema).
  const plain = isPlainObject(body) && isPlainObject(body['pushData']);
  // Too deep to store or publish (json-depth.ts): a pushData problem, at pushData's place.
  const tooDeep = plain && jsonDepthExceeds(body['pushData'], MAX_JSON_DEPTH - 1);
  if ('error' in checked || !plain || tooDeep) {
    let problem = 'error' in checked ? checked.error : new HeraldError(Errors.PUSH_DATA_INVALID);
    if (!plain && !BEFORE_OFFLINE.has(problem.code)) problem = new HeraldError(Errors.PUSH_DATA_INVALID);
    if (tooDeep && !BEFORE_PUSH_DATA.has(problem.code)) problem = new HeraldError(Errors.JSON_TOO_DEEP);
    if (namespaceOffline && !BEFORE_OFFLINE.has(problem.code)) throw new HeraldError(Errors.NAMESPACE_OFFLINE);
    if (AFTER_APS_SIZE.has(problem.code) && apsDataTooLarge(body)) throw new HeraldError(Errors.APS_DATA_TOO_LARGE);
    throw problem;
  }
  if (namespaceOffline) throw new HeraldError(Errors.NAMESPACE_OFFLINE);
  if (apsDataTooLarge(body)) throw new HeraldError(Errors.APS_DATA_TOO_LARGE);
  const { room, pushData, apnsName, leaveMessage, except, expire, extra } = checked.value;
  return Object.freeze({
    room,
    pushData,
    apnsName,
    leaveMessage: leaveMessage === undefined ? false : parseFlag(leaveMessage) === true,
    except,
    expire: expire ?? DEFAULT_EXPIRE_HOURS,
    extra,
  });
}

/** The copy of `pushData` that goes to sockets: `apsData` is for APNs only (seed `emit_msg_pick_key`). */
export function publicPushData(pushData: Record<string, unknown>): Record<string, unknown> {
  if (!('apsData' in pushData)) return pushData;
  const { apsData: _omitted, ...rest } = pushData;
  return rest;
}
