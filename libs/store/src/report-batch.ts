import type { Platform } from '@herald/wire';
import type { Keys } from './keys';

/** One message's updates in a connector's report batch, packed as report-batch.lua reads them. */
export interface PackedMessageUpdates {
  /** `<at>:<sockets>` each (packDelivery). */
  readonly deliveries: readonly string[];
  /** `<platform letter><at>:<clientId>` each (packAck). */
  readonly acks: readonly string[];
}

const PLATFORM_LETTER: Record<Platform, string> = { web: 'w', android: 'a', ios: 'i' };

/** A client acknowledged the message at `at` (ms since the epoch). */
export function packAck(platform: Platform, at: number, clientId: string): string {
  return `${PLATFORM_LETTER[platform]}${at}:${clientId}`;
}

/** A connector wrote the message to `sockets` sockets at `at`. */
export function packDelivery(at: number, sockets: number): string {
  return `${at}:${sockets}`;
}

/** How long a batch's mark is kept: the same batch sent again within this time changes nothing. */
export const REPORT_BATCH_MARK_MS = 600_000;

/**
 * The keys and arguments of one report-batch.lua call: the batch's mark (`token`, unique to the
 * batch: the same token for every attempt to write it), the updates of messages of one namespace
 * (five keys per message, all under its hash tag), the timeline cap and the connector's id.
 */
export function reportBatchCall(
  keys: Keys,
  namespace: string,
  token: string,
  messages: Iterable<[id: number, updates: PackedMessageUpdates]>,
  timelineCap: number,
  connectorId: string,
): { keys: string[]; args: (string | number)[] } {
  const keyList: string[] = [keys.reportBatchMark(namespace, token)];
  const args: (string | number)[] = [timelineCap, connectorId, REPORT_BATCH_MARK_MS];
  for (const [id, updates] of messages) {
    keyList.push(keys.message(namespace, id), keys.acks(namespace, id, 'web'), keys.acks(namespace, id, 'android'), keys.acks(namespace, id, 'ios'), keys.timeline(namespace, id));
    args.push(updates.deliveries.length, updates.acks.length, ...updates.deliveries, ...updates.acks);
  }
  return { keys: keyList, args };
}
