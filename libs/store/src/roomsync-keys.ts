import type { Keys } from './keys';

/**
 * The Redis keys of the roomsync protocol (seed 000), beside the core's schema (keys.ts,
 * docs/data-model.md).
 *
 * Every key shares the namespace's tag `{<nsp>}`, like its messages (keys.ts): one script stores
 * or pages a room's history on Redis Cluster, and the namespace clean-up (`SCAN` of the tag,
 * namespace-cleanup.ts) removes them with the rest of the namespace. Room ids are chosen by seed
 * clients (any string or number): they are percent-encoded (`encodeURIComponent`) in key names,
 * which is injective and leaves no `{`, `}`, `|` or `:` to forge a tag or a separator.
 */
export class RoomsyncKeys {
  constructor(private readonly keys: Keys) {}

  private nsTag(nsp: string): string {
    return `${this.keys.prefix}{${nsp}}:rs`;
  }

  private roomTag(nsp: string, room: string): string {
    return `${this.nsTag(nsp)}:h:${encodeURIComponent(room)}`;
  }

  /** list of insert messages (storage 0), oldest first. */
  inserts(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:ins`;
  }

  /** hash msgId → the last update message (storage 1). */
  updates(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:upd`;
  }

  /** zset msgId scored by its last write (ms): the order updates are synced in, and retention. */
  updateOrder(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:updz`;
  }

  /** list of ignored messages (storage 2): kept apart, never synced. */
  ignored(nsp: string, room: string): string {
    return `${this.roomTag(nsp, room)}:ign`;
  }

  /** The mark of one roomsync-store.lua call (`token` unique to the call): a resend changes nothing. */
  storeMark(nsp: string, token: string): string {
    return `${this.nsTag(nsp)}:mk:${token}`;
  }

  /** hash uid → sha256 hex of the user's token. */
  tokens(nsp: string): string {
    return `${this.nsTag(nsp)}:tokens`;
  }

  /** counter of one uid's authentications in the current minute. */
  authCount(nsp: string, uid: string): string {
    return `${this.nsTag(nsp)}:auth:${encodeURIComponent(uid)}`;
  }

  /** hash uid → JSON of the user's authenticated connection. */
  users(nsp: string): string {
    return `${this.nsTag(nsp)}:users`;
  }

  /** hash uid → JSON of the member (its connection, dummy or not). */
  room(nsp: string, room: string): string {
    return `${this.nsTag(nsp)}:room:${encodeURIComponent(room)}`;
  }

  /** set of the rooms that have members now. */
  rooms(nsp: string): string {
    return `${this.nsTag(nsp)}:rooms`;
  }
}
