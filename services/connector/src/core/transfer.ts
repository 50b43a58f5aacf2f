import type { Logger } from '@herald/log';
import type { TransferNotice } from '@herald/wire';
import type { Rooms } from './rooms';
import { adapterRoom, type HeraldNamespace, type HeraldSocket } from './socket-data';

/**
 * REST transfer, connector part: every socket of this connector in one of the source rooms joins
 * (or leaves) the target room and is told by its protocol (push: a `joinRoom` / `leaveRoom` notice
 * carrying the request) — only when its membership changes. A socket that is gone is skipped, never the end of
 * the loop (the seed returned there).
 */
export function transferSockets(
  nsp: HeraldNamespace,
  notice: TransferNotice,
  rooms: Rooms,
  serial: (socket: HeraldSocket, work: () => Promise<void>) => Promise<void>,
  logger: Logger,
): number {
  const sids = new Set<string>();
  for (const room of notice.sourceRooms) for (const sid of nsp.adapter.rooms.get(adapterRoom(room)) ?? []) sids.add(sid);
  let moved = 0;
  for (const sid of sids) {
    const socket = nsp.sockets.get(sid);
    if (!socket) continue;
    const member = socket.data.rooms.has(notice.targetRoom);
    if (notice.type === 'join' ? member : !member) continue;
    moved++;
    serial(socket, async () => {
      if (notice.type === 'join') await rooms.join(socket, notice.targetRoom);
      else await rooms.leave(socket, notice.targetRoom);
      socket.data.protocol.transferred(socket, notice);
    }).catch((error: unknown) => logger.warn({ err: error, clientId: socket.data.identity.clientId }, 'transfer failed for a socket'));
  }
  return moved;
}
