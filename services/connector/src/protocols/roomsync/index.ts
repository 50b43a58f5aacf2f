import { isRoomsyncNotice, type StoredMessage } from '@herald/wire';
import type { NamespaceSettings } from '@herald/store';
import { anonymousIdentity } from '../../core/identify';
import type { ReapedClient } from '../../core/liveness';
import type { Admission, CoreServices, Encoded, Protocol } from '../../core/protocol';
import { adapterRoom, type HeraldNamespace, type HeraldSocket } from '../../core/socket-data';
import { bindSession, createState, stateOf, storesOf } from './session';

/** Admitted sockets' namespace settings, until bind() creates their state. */
const admitted = new WeakMap<HeraldSocket, NamespaceSettings>();

const listening = new WeakSet<HeraldNamespace>();

/**
 * Listens, once per namespace object, to the roomsync notices of other connectors
 * (`herald:roomsync`, through the adapter: every connector gets each, the sender too): a user of
 * a dead connector is announced to this connector's sockets in its room as `remote_disconnect`.
 */
function listenForNotices(nsp: HeraldNamespace, core: CoreServices): void {
  if (listening.has(nsp)) return;
  listening.add(nsp);
  (nsp.on as unknown as (event: string, listener: (notice: unknown) => void) => void)('herald:roomsync', (notice) => {
    if (!isRoomsyncNotice(notice)) {
      core.connector.logger.warn({ namespace: nsp.name }, 'malformed roomsync notice ignored');
      return;
    }
    (nsp.local.to(adapterRoom(notice.room)) as unknown as { emit: (event: string, ...args: unknown[]) => boolean }).emit('remote_disconnect', { uid: notice.uid });
  });
}

/**
 * The roomsync protocol (seed 000 "Always Online", docs/protocols/roomsync.md): seed clients
 * connect anonymously and `authenticate {uid, token}` afterwards (the core's late identity), one
 * session per uid cluster-wide, room messages relayed to the room on every connector and kept in
 * Redis for `sync`.
 */
export const roomsyncProtocol: Protocol = Object.freeze({
  name: 'roomsync' as const,

  async admit(socket: HeraldSocket, record: NamespaceSettings): Promise<Admission> {
    admitted.set(socket, record);
    // Anonymous until `authenticate`.
    return { anonymous: true, identity: anonymousIdentity(socket), rooms: [] };
  },

  bind(socket: HeraldSocket, core: CoreServices): void {
    listenForNotices(socket.nsp, core);
    const state = createState(socket, admitted.get(socket)?.protocolSettings);
    admitted.delete(socket);
    bindSession(socket, core, state);
  },

  async connected(): Promise<void> {
    // Nothing until `authenticate`: seed clients are told nothing on connect.
  },

  /**
   * A message published to a room of the namespace (the admin API's `system/push`, or
   * `POST /api/auth/push`) is the seed's `system` event: `pushData.content` when present (what the
   * seed's admin push carried), else the whole pushData.
   */
  encode(message: StoredMessage): Encoded {
    const data = message.pushData as Record<string, unknown>;
    return { event: 'system', args: [Object.hasOwn(data, 'content') ? data['content'] : data] };
  },

  presence(): void {
    // Roomsync announces its own room changes (remote_join, remote_leave, remote_disconnect).
  },

  evicted(socket: HeraldSocket): void {
    const state = stateOf(socket);
    // A kicked connection announces nothing: the newcomer takes its place silently (seed 000).
    if (state) state.kicked = true;
    (socket.emit as unknown as (event: string, ...args: unknown[]) => boolean)('kickout', 0);
  },

  transferred(): void {
    // Seed clients know of no transfer notice.
  },

  /**
   * A user's connector died: its presence entries go, and its room is told `remote_disconnect`
   * on every connector, as if it had disconnected (the seed, one process, had no such case). A
   * user that connected again since (another connection in the entry) or a dummy is not announced.
   */
  async reaped(client: ReapedClient, core: CoreServices): Promise<void> {
    const { presence } = storesOf(core.redis, core.keys);
    const user = await presence.user(client.namespace, client.userid);
    if (!user || user.sid !== client.sid) return;
    await presence.leave(client.namespace, user.room, user.uid, user.sid, true);
    if (user.room === undefined || user.dummy) return;
    core.connector.bus.roomsync(client.namespace, { kind: 'disconnect', room: user.room, uid: user.uid });
  },
});
