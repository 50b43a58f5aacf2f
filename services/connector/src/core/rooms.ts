import type { Logger } from '@herald/log';
import type { RoomStore } from '@herald/store';
import { adapterRoom, type HeraldSocket } from './socket-data';

/**
 * Room membership of the sockets of this connector, kept in two places that must agree: the
 * socket.io adapter (who gets a broadcast here) and Redis (who is online cluster-wide, who is a
 * member for offline delivery). Redis is written first, so a client counted online is always one
 * that can receive.
 */
export class Rooms {
  constructor(
    private readonly store: RoomStore,
    private readonly logger: Logger,
  ) {}

  async join(socket: HeraldSocket, room: string): Promise<void> {
    const { namespace, platform, clientId } = socket.data.identity;
    await this.store.join(namespace, room, platform, clientId);
    socket.data.rooms.add(room);
    await socket.join(adapterRoom(room));
  }

  async leave(socket: HeraldSocket, room: string): Promise<void> {
    const { namespace, platform, clientId } = socket.data.identity;
    await this.store.leave(namespace, room, platform, clientId);
    socket.data.rooms.delete(room);
    await socket.leave(adapterRoom(room));
  }

  /** The socket disconnected: it is offline in each of its rooms, still a member of them. */
  async disconnected(socket: HeraldSocket): Promise<void> {
    const { namespace, platform, clientId } = socket.data.identity;
    const results = await Promise.allSettled(
      [...socket.data.rooms].map((room) => this.store.offline(namespace, room, platform, clientId)),
    );
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) this.logger.warn({ clientId, failed }, 'could not mark client offline in some rooms');
  }
}
