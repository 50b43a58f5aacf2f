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
