import { clientIdOf, userRoom } from '@herald/wire';
import type { ClientStore } from '@herald/store';
import type { Eviction } from './eviction';
import type { Rooms } from './rooms';
import { adapterRoom, clientRoom, type HeraldSocket, type Identity } from './socket-data';

/**
 * The identity of a socket admitted anonymous (`Admission.anonymous`): unique to the socket, so its
 * client room holds only it. Every protocol with late identity admits with it.
 */
export function anonymousIdentity(socket: HeraldSocket): Identity {
  const namespace = socket.nsp.name;
  const own = socket.id;
  return Object.freeze({ namespace, uuid: own, userid: own, platform: 'web', clientId: clientIdOf(namespace, own, 'web', own), activityBroadcast: false });
}

/** What `CoreServices#identify` is given besides the socket and identity. */
export interface IdentifyOptions {
  /** Disconnect every other connection of the new clientId on every connector first (single session). */
  readonly evict?: boolean;
}

/**
 * Late identity (docs/architecture.md "Late identity"): protocols whose clients authenticate after
 * connecting (sessions, roomsync, chat) admit their sockets anonymous and name who they are later,
 * or again when it changes. An identified socket gets exactly what a handshake identity gets — its
 * client room, its client record, its user room and the client's persistent rooms — so user
 * envelopes, presence, eviction, reports and the reaper work for it as for any client. Changing or
 * dropping the identity first takes the socket out of everything the old one had, as a disconnect
 * of that client would (`identity changed`).
 */
export class Identification {
  constructor(
    private readonly clients: ClientStore,
    private readonly rooms: Rooms,
    private readonly eviction: Eviction,
    /** connector.ts's per-socket serial queue. */
    private readonly serial: (socket: HeraldSocket, work: () => Promise<void>) => Promise<void>,
    private readonly connectorId: string,
  ) {}

  /**
   * Identifies `socket` as `identity`, or makes it anonymous again (`null`). Runs in the socket's
   * serial queue, after its earlier room changes; resolves when the socket is in its rooms.
   */
  identify(socket: HeraldSocket, identity: Identity | null, options: IdentifyOptions = {}): Promise<void> {
    return this.serial(socket, async () => {
      if (!socket.connected) return;
      const before = socket.data.identity;
      if (identity !== null && !socket.data.anonymous && before.clientId === identity.clientId) return;
      if (!socket.data.anonymous) await this.forget(socket);
      if (identity === null) {
        socket.data.identity = socket.data.admitted;
        socket.data.anonymous = true;
        await socket.join(clientRoom(socket.data.admitted.clientId));
        return;
      }
      if (options.evict) await this.eviction.evictEverywhere(socket.nsp, identity.clientId);
      // Evicting may take a while (other connectors answer): the socket may be gone by now.
      if (!socket.connected) return;
      await socket.leave(clientRoom(socket.data.identity.clientId));
      socket.data.identity = identity;
      socket.data.anonymous = false;
      await socket.join(clientRoom(identity.clientId));
      const previous = await this.clients.connected(identity.clientId, {
        namespace: identity.namespace,
        userid: identity.userid,
        uuid: identity.uuid,
        platform: identity.platform,
        sid: socket.id,
        connector: this.connectorId,
      });
      for (const room of new Set([userRoom(identity.userid), ...previous])) await this.rooms.join(socket, room);
    });
  }

  /** The socket's current identity is over: offline in its rooms, its record updated, out of its adapter rooms. */
  private async forget(socket: HeraldSocket): Promise<void> {
    await this.rooms.disconnected(socket, 'identity changed');
    for (const room of socket.data.rooms) await socket.leave(adapterRoom(room));
    socket.data.rooms.clear();
    await socket.leave(clientRoom(socket.data.identity.clientId));
  }
}
