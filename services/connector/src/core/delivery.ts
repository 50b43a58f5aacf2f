import { metrics } from '@herald/metrics';
import { userRoom, type Envelope } from '@herald/wire';
import type { Acks } from './acks';
import type { Protocol } from './protocol';
import type { ReportBatcher } from './report-batcher';
import { adapterRoom, clientRoom, type HeraldNamespace } from './socket-data';

/** The adapter room an envelope targets: a room, a user's room, or one client's room. */
export function targetRoom(envelope: Envelope): string {
  const to = envelope.to ?? envelope.message.room;
  switch (envelope.kind) {
    case 'user':
      return adapterRoom(userRoom(to));
    case 'direct':
      return clientRoom(to);
    default:
      // No kind: the envelope of the push-only core, a room delivery.
      return adapterRoom(to);
  }
}

/**
 * The delivery path on a connector: a message published by logic reaches every connector that has
 * sockets of its namespace; each writes it once (pre-encoded by socket.io, in the namespace's
 * protocol) to its own sockets in the target, minus `except`, counts them into the report's
 * `onlineClientCount`, and remembers the target so that only targeted clients' acks count.
 */
export function deliver(nsp: HeraldNamespace, envelope: Envelope, protocol: Protocol, reports: ReportBatcher, acks: Acks): number {
  const { message, except } = envelope;
  const room = targetRoom(envelope);
  const members = nsp.adapter.rooms.get(room);
  if (!members || members.size === 0) return 0;
  let count = members.size;
  let operator = nsp.local.to(room);
  if (except !== undefined) {
    const excluded = clientRoom(except);
    operator = operator.except(excluded);
    for (const sid of nsp.adapter.rooms.get(excluded) ?? []) if (members.has(sid)) count--;
  }
  if (count === 0) return 0;
  const { event, args } = protocol.encode(message);
  (operator.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
  reports.delivered(nsp.name, message.id, count);
  metrics.delivered(nsp.name, message.id, message.sendDate, count);
  acks.delivered(nsp.name, message.id, room, except, envelope.inbox !== false);
  return count;
}
