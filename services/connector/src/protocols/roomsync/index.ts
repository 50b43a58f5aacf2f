import { anonymousIdentity } from '../../core/identify';
import type { StoredMessage } from '@herald/wire';
import type { NamespaceSettings } from '@herald/store';
import type { Admission, CoreServices, Encoded, Protocol } from '../../core/protocol';
import type { HeraldSocket } from '../../core/socket-data';
import { bindSession, createState, stateOf } from './session';

/** Admitted sockets' namespace settings, until bind() creates their state. */
const admitted = new WeakMap<HeraldSocket, NamespaceSettings>();

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
});
