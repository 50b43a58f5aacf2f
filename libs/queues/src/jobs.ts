/**
 * Job payloads. They carry ids, never message bodies or device tokens: the body lives in the message
 * hash, tokens in the client record, so a job never holds a secret nor a stale copy.
 */
export interface OfflineJob {
  readonly namespace: string;
  readonly id: number;
}

/** Job id of a message's offline step: one per message, so a retried enqueue adds nothing twice. */
export function offlineJobId(namespace: string, id: number): string {
  // BullMQ refuses custom ids containing ':'; names cannot contain it either (names.ts).
  return `offline|${namespace}|${id}`;
}

/** One batch of APNs deliveries of a message: the devices are read from the client records. */
export interface ApnsJob {
  readonly namespace: string;
  readonly id: number;
  readonly clientIds: readonly string[];
}

/** Devices per APNs job: big enough to keep HTTP/2 streams busy, small enough to retry cheaply. */
export const APNS_BATCH = 100;

/**
 * Job id of one APNs batch. The offline step pages a room's members in a stable order, so a re-run
 * of the step after a crash produces the same ids and BullMQ adds nothing twice.
 */
export function apnsJobId(namespace: string, id: number, batch: number): string {
  return `apns|${namespace}|${id}|${batch}`;
}
