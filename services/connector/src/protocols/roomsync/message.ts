import type { RoomsyncStorage } from '@herald/store';

/** A `msg` as the connector stores and relays it. */
export interface RoomsyncMessage {
  /** The client's object with the sender's uid added (`uid`, or `2` in the compact form). */
  readonly relayed: Record<string, unknown>;
  readonly storage: RoomsyncStorage;
  /** The update key (storage 1); '' otherwise. */
  readonly msgId: string;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value) && !ArrayBuffer.isView(value);

/**
 * Reads a client `msg` in either of seed 000's forms:
 * - the README's `{data, storage: 0|1|2, msgId}`: the sender's uid is added as `uid`;
 * - HEAD's compact form `{s, 1: msgId, …}`: the uid is added as `2` (HEAD's `msg[2] = socket.uid`).
 * A storage that is not 0, 1 or 2 is an insert (seed: "default to insert"), and so is an update
 * without a msgId (it has no key to update). Anything but a plain object is not a message.
 */
export function readMessage(payload: unknown, uid: string | number): RoomsyncMessage | undefined {
  if (!isPlainObject(payload)) return undefined;
  const compact = !('storage' in payload) && !('msgId' in payload) && ('s' in payload || '1' in payload);
  const rawStorage = compact ? payload['s'] : payload['storage'];
  const rawId = compact ? payload['1'] : payload['msgId'];
  const msgId = typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId)) ? String(rawId) : '';
  let storage: RoomsyncStorage = rawStorage === 1 || rawStorage === 2 || rawStorage === '1' || rawStorage === '2' ? (Number(rawStorage) as RoomsyncStorage) : 0;
  if (storage === 1 && msgId === '') storage = 0;
  const relayed = compact ? { ...payload, '2': uid } : { ...payload, uid };
  return { relayed, storage, msgId };
}

/** A room id as seed clients send it: a non-empty string or a finite number (`0` included, as the seed). */
export function readRoomId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.length > 0 && value.length <= 200 && !/[\u0000-\u001f]/.test(value)) return value;
  return undefined;
}

/** A sync offset as the seed read it after its fix (0d5a64c): parseInt, anything else 0; never negative. */
export function readOffset(value: unknown): number {
  const parsed = typeof value === 'number' ? Math.trunc(value) : parseInt(String(value), 10);
  return Number.isFinite(parsed) && parsed > 0 ? Math.min(parsed, 2 ** 31) : 0;
}
