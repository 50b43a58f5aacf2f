import type { Logger } from '@herald/log';
import { Errors, HeraldError, USER_ROOM_PREFIX } from '@herald/wire';
import type { ClientStore, DisconnectReason, RoomStore } from '@herald/store';
import type { PresenceChange } from './protocol';
import { adapterRoom, type HeraldSocket } from './socket-data';

export interface RoomsOptions {
  /** Server-side switch for presence events (HERALD_ROOM_ACTIVITY_BROADCAST). */
  readonly activityBroadcast: boolean;
  /** This connector's id, recorded with each connection for the reaper. */
  readonly connectorId: string;
  /** The namespace's `max_client_rooms` (read when a client asks to join rooms). */
  readonly maxClientRooms: (namespace: string) => Promise<number>;
}

/**
 * Room membership of this connector's sockets, kept in three places that must agree: the socket.io
 * adapter (who gets a broadcast here), the room sets in Redis (who is online cluster-wide, who is a
 * member for offline delivery) and the client's own room list (re-joined on every connect). Redis
 * is written first, so a client counted online is always one that can receive.
 *
 * Presence changes are announced by the socket's protocol (the push protocol: `peopleJoin` /
 * `peopleLeave` through the adapter to the room's members on every connector), when the server
 * allows it (HERALD_ROOM_ACTIVITY_BROADCAST).
 */
export class Rooms {
  constructor(
    private readonly store: RoomStore,
    private readonly clients: ClientStore,
    private readonly options: RoomsOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Refuses, as a whole, a list of rooms that would take the client past its namespace's
   * `max_client_rooms` (user rooms do not count: Herald puts every client in its own).
   * @throws HeraldError CLIENT_ROOMS_LIMIT
   */
  async admit(socket: HeraldSocket, rooms: readonly string[]): Promise<void> {
    const { namespace, clientId } = socket.data.identity;
    const chosen = rooms.filter((room) => !room.startsWith(USER_ROOM_PREFIX));
    if (chosen.length === 0) return;
    const [max, { count, members }] = await Promise.all([this.options.maxClientRooms(namespace), this.clients.roomsAmong(clientId, chosen)]);
    const added = members.filter((member) => !member).length;
    if (count + added > max) throw new HeraldError(Errors.CLIENT_ROOMS_LIMIT, `at most ${max}`);
  }

  async join(socket: HeraldSocket, room: string): Promise<void> {
    const { namespace, clientId } = socket.data.identity;
    await this.store.join(namespace, room, socket.data.identity, socket.id);
    // User rooms follow the userid of each connection; only chosen rooms persist.
    if (!room.startsWith(USER_ROOM_PREFIX)) await this.clients.addRoom(clientId, room);
    const fresh = !socket.data.rooms.has(room);
    socket.data.rooms.add(room);
    await socket.join(adapterRoom(room));
    if (fresh) this.announce(socket, { kind: 'join', room, clientOffline: false });
  }

  async leave(socket: HeraldSocket, room: string): Promise<void> {
    const { namespace, clientId } = socket.data.identity;
    await this.store.leave(namespace, room, socket.data.identity);
    await this.clients.removeRoom(clientId, room);
    const was = socket.data.rooms.delete(room);
    await socket.leave(adapterRoom(room));
    if (was) this.announce(socket, { kind: 'leave', room, clientOffline: false });
  }

  /** The socket is gone: offline in each of its rooms (still a member), and its record updated. */
  async disconnected(socket: HeraldSocket, reason: DisconnectReason): Promise<void> {
    const { namespace, clientId } = socket.data.identity;
    const rooms = [...socket.data.rooms];
    const results = await Promise.allSettled(rooms.map((room) => this.store.offline(namespace, room, socket.data.identity, socket.id)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) this.logger.warn({ clientId, failed }, 'could not mark client offline in some rooms');
    for (const room of rooms) this.announce(socket, { kind: 'leave', room, clientOffline: true });
    await this.clients.disconnected(
      clientId,
      { namespace, userid: socket.data.identity.userid, sid: socket.id, connector: this.options.connectorId },
      reason,
    );
  }

  private announce(socket: HeraldSocket, change: PresenceChange): void {
    if (this.options.activityBroadcast) socket.data.protocol.presence(socket, change);
  }
}
