import { metrics } from '@herald/metrics';
import type { PushEnvelope } from '@herald/protocol';
import type { ReportBatcher } from './report-batcher';
import { adapterRoom, clientRoom, type HeraldNamespace } from './socket-data';

/**
 * The push path on a connector: a message published by logic reaches every connector that has
 * sockets of its namespace; each writes it once (pre-encoded by socket.io) to its own sockets in the
 * room, minus `except`, and counts them into the report's `onlineClientCount`.
 */
export function deliver(nsp: HeraldNamespace, envelope: PushEnvelope, reports: ReportBatcher): number {
  const { message, except } = envelope;
  const room = adapterRoom(message.room);
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
  operator.emit('push', message);
  reports.delivered(nsp.name, message.id, count);
  metrics.delivered(nsp.name, message.id, message.sendDate, count);
  return count;
}
