import { PLATFORMS, isPlatform, userRoom, type Platform } from '@herald/wire';
import { Cluster } from 'ioredis';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { Scripts } from './scripts';

/**
 * Escapes the characters that `SCAN … MATCH` (Redis `stringmatchlen`) treats as a pattern: `*`, `?`,
 * `[`, `]` and `\`. Namespace names may contain `\` (names.ts), and an unescaped `\}` would match the
 * tag of another namespace (`/a\` would match `/a`'s keys).
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export interface NamespaceCleanupOptions {
  /**
   * Entries read per SSCAN / ZSCAN / SCAN call and keys per UNLINK: big enough to be quick, small
   * enough that no single command blocks Redis noticeably.
   * @default 1000
   */
  readonly pageSize?: number;
}

/**
 * The operators' clean-up of one namespace (seed 002 routes 14–16): take its clients offline, forget
 * clients not seen for long, delete all its data. Every step walks an index (the namespace's room
 * set and client zset) or, for the `{<nsp>}`-tagged keys only, a `SCAN MATCH` on that exact tag, one
 * page at a time, and deletes with UNLINK (freed in the background): a namespace of any size is
 * removed without KEYS and without blocking Redis. Nothing outside the namespace is touched except
 * the connector client sets (`conn:{id}:clients`), from which its clients are removed.
 *
 * Callers make sure the namespace is `offline: on` first, so that no client connects meanwhile.
 * BullMQ jobs and webhook dead letters of the namespace are left to their retention.
 */
export class NamespaceCleanup {
  private readonly pageSize: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scripts: Scripts = new Scripts(redis),
    options: NamespaceCleanupOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 1000;
  }

  /**
   * Every client online in the namespace goes offline: its record gets `last_disconnect_time` and
   * `disconnect_reason: 'clear'` (and loses its connection fields), it leaves the namespace's online
   * set and user counts and every room's online sets. Membership (room `:all` sets, the clients'
   * room lists) stays, so offline delivery still reaches them.
   * @returns how many clients were taken offline.
   */
  async clearRealtimeData(nsp: string): Promise<number> {
    const k = this.keys;
    const now = Date.now();
    let count = 0;
    for await (const page of this.setPages(k.namespaceOnline(nsp))) {
      const taken = await Promise.all(page.map((clientId) => this.takeOffline(nsp, clientId, now)));
      count += taken.filter(Boolean).length;
    }
    // Counts of clients whose record was missing (so whose userid is unknown) cannot be lowered one
    // by one; with nobody online the whole hash is stale.
    if ((await this.redis.scard(k.namespaceOnline(nsp))) === 0) await this.redis.unlink(k.namespaceOnlineUsers(nsp));
    for await (const rooms of this.setPages(k.namespaceRooms(nsp))) {
      await this.unlinkGroups(
        rooms.map((room) => [
          k.roomOnline(nsp, room),
          ...PLATFORMS.map((p) => k.roomOnlineBy(nsp, room, p)),
          k.roomOnlineUsers(nsp, room),
          k.roomOnlineConnections(nsp, room),
        ]),
      );
    }
    return count;
  }

  private async takeOffline(nsp: string, clientId: string, now: number): Promise<boolean> {
    const k = this.keys;
    const [namespace, userid, sid, connector] = await this.redis.hmget(k.client(clientId), 'namespace', 'userid', 'sid', 'connector');
    const removed = userid
      ? await this.scripts.namespacePresence([k.namespaceOnline(nsp), k.namespaceOnlineUsers(nsp), k.namespaceClients(nsp)], clientId, userid, 'off', now)
      : await this.redis.srem(k.namespaceOnline(nsp), clientId);
    // Seen twice by SSCAN (the set was rehashed meanwhile): already done.
    if (removed === 0) return false;
    // The same record update as a disconnect, so that the socket's own late clean-up (if it is still
    // connected) finds another sid and changes nothing.
    if (sid) await this.scripts.clientDisconnect(k.client(clientId), sid, now, 'clear');
    else if (namespace) await this.redis.hset(k.client(clientId), 'last_disconnect_time', String(now), 'disconnect_reason', 'clear');
    if (connector) await this.redis.srem(k.connectorClients(connector), clientId);
    return true;
  }

  /**
   * Forgets every client whose last connect is older than `before` (ms): it leaves every room it is
   * a member of (its room list and its user room), the online sets and the namespace's client index;
   * its record, room list, do-not-disturb set and inbox are deleted. Rooms left with nobody in them
   * leave the namespace's room index.
   * @returns the removed clientIds, oldest first.
   */
  async clearLegacyClients(nsp: string, before: number): Promise<string[]> {
    const k = this.keys;
    const removed: string[] = [];
    for (;;) {
      // Each page is removed from the zset before the next is read, so offset 0 always moves on.
      const page = await this.redis.zrangebyscore(k.namespaceClients(nsp), '-inf', `(${before}`, 'LIMIT', 0, this.pageSize);
      if (page.length === 0) break;
      const roomsOfPage = await Promise.all(page.map((clientId) => this.forgetClient(nsp, clientId)));
      await this.redis.zrem(k.namespaceClients(nsp), ...page);
      await this.dropEmptyRooms(nsp, [...new Set(roomsOfPage.flat())]);
      removed.push(...page);
    }
    return removed;
  }

  /** Removes one client everywhere in its namespace; returns the rooms it was in. */
  private async forgetClient(nsp: string, clientId: string): Promise<string[]> {
    const k = this.keys;
    const [platform, userid, connector] = await this.redis.hmget(k.client(clientId), 'platform', 'userid', 'connector');
    const rooms = await this.members(k.clientRooms(clientId));
    if (userid) rooms.push(userRoom(userid));
    const platforms: readonly Platform[] = isPlatform(platform) ? [platform] : PLATFORMS;
    await Promise.all(
      rooms.flatMap((room) =>
        platforms.map((p) =>
          this.scripts.roomLeave(
            [
              k.roomOnline(nsp, room),
              k.roomOnlineBy(nsp, room, p),
              k.roomMembers(nsp, room),
              k.roomMembersBy(nsp, room, p),
              k.roomOnlineUsers(nsp, room),
              k.roomOnlineConnections(nsp, room),
            ],
            clientId,
            userid ?? '',
          ),
        ),
      ),
    );
    if (userid) {
      await this.scripts.namespacePresence([k.namespaceOnline(nsp), k.namespaceOnlineUsers(nsp), k.namespaceClients(nsp)], clientId, userid, 'off', Date.now());
    } else {
      await this.redis.srem(k.namespaceOnline(nsp), clientId);
    }
    if (connector) await this.redis.srem(k.connectorClients(connector), clientId);
    await this.unlinkGroups([this.clientKeys(clientId)]);
    return rooms;
  }

  /** Rooms with neither members nor online clients leave the namespace's room index. */
  private async dropEmptyRooms(nsp: string, rooms: readonly string[]): Promise<void> {
    const k = this.keys;
    const sizes = await Promise.all(
      rooms.map(async (room) => (await this.redis.scard(k.roomMembers(nsp, room))) + (await this.redis.scard(k.roomOnline(nsp, room)))),
    );
    const empty = rooms.filter((_, i) => sizes[i] === 0);
    for (let i = 0; i < empty.length; i += this.pageSize) await this.redis.srem(k.namespaceRooms(nsp), ...empty.slice(i, i + this.pageSize));
  }

  /**
   * Deletes all the namespace's data and keeps its settings and registry entry: the keys of every
   * room in its room index, the keys of every client in its client index (and their entries in the
   * connector client sets), then every `{<nsp>}`-tagged key (messages, ack sets, APNs outcomes,
   * history, id counter, push counters, and the indexes themselves, last).
   * @returns how many keys were deleted.
   */
  async clearData(nsp: string): Promise<number> {
    const k = this.keys;
    let deleted = 0;
    for await (const rooms of this.setPages(k.namespaceRooms(nsp))) {
      deleted += await this.unlinkGroups(rooms.map((room) => this.roomKeys(nsp, room)));
    }
    for await (const clients of this.zsetPages(k.namespaceClients(nsp))) {
      const connectors = await Promise.all(clients.map((clientId) => this.redis.hget(k.client(clientId), 'connector')));
      await Promise.all(clients.map((clientId, i) => (connectors[i] ? this.redis.srem(k.connectorClients(connectors[i]!), clientId) : 0)));
      deleted += await this.unlinkGroups(clients.map((clientId) => this.clientKeys(clientId)));
    }
    // The message id counter stays: ids keep increasing across a clear or flush, so clients that
    // de-duplicate by id never drop a new message as already seen.
    const seq = k.messageSeq(nsp);
    for await (const page of this.taggedKeys(nsp)) deleted += await this.unlinkGroups([page.filter((key) => key !== seq)]);
    return deleted;
  }

  /** Every key of one room (one hash tag). */
  private roomKeys(nsp: string, room: string): string[] {
    const k = this.keys;
    return [
      k.roomOnline(nsp, room),
      k.roomOnlineUsers(nsp, room),
      k.roomOnlineConnections(nsp, room),
      k.roomMembers(nsp, room),
      ...PLATFORMS.flatMap((p) => [k.roomOnlineBy(nsp, room, p), k.roomMembersBy(nsp, room, p)]),
    ];
  }

  /** Every key of one client (one hash tag). */
  private clientKeys(clientId: string): string[] {
    const k = this.keys;
    return [k.client(clientId), k.clientRooms(clientId), k.clientMuted(clientId), k.clientInbox(clientId)];
  }

  /** All members of a set, read in pages. */
  private async members(key: string): Promise<string[]> {
    const out: string[] = [];
    for await (const page of this.setPages(key)) out.push(...page);
    return out;
  }

  private async *setPages(key: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, page] = await this.redis.sscan(key, cursor, 'COUNT', this.pageSize);
      cursor = next;
      if (page.length) yield page;
    } while (cursor !== '0');
  }

  private async *zsetPages(key: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(key, cursor, 'COUNT', this.pageSize);
      cursor = next;
      const page = flat.filter((_, i) => i % 2 === 0);
      if (page.length) yield page;
    } while (cursor !== '0');
  }

  /**
   * Keys tagged `{<nsp>}` (keys.ts builds them as `<prefix>{<nsp>}:…`). The closing brace and colon
   * are part of the pattern, so `/a` never matches `/ab`'s keys. On a cluster the tag lives on one
   * master; every master is scanned since which one may change while this runs.
   */
  private async *taggedKeys(nsp: string): AsyncGenerator<string[]> {
    const pattern = `${escapeGlob(this.keys.prefix)}{${escapeGlob(nsp)}}:*`;
    const nodes = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, page] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', this.pageSize);
        cursor = next;
        if (page.length) yield page;
      } while (cursor !== '0');
    }
  }

  /**
   * UNLINKs groups of keys, each group within one hash slot: on a single server several groups go in
   * one command (up to a page of keys); on a cluster each group is its own command.
   */
  private async unlinkGroups(groups: readonly (readonly string[])[]): Promise<number> {
    const nonEmpty = groups.filter((group) => group.length > 0);
    if (this.redis instanceof Cluster) {
      const counts = await Promise.all(nonEmpty.map((group) => this.redis.unlink(...group)));
      return counts.reduce((a, b) => a + b, 0);
    }
    let total = 0;
    let batch: string[] = [];
    for (const group of nonEmpty) {
      batch.push(...group);
      if (batch.length >= this.pageSize) {
        total += await this.redis.unlink(...batch);
        batch = [];
      }
    }
    if (batch.length) total += await this.redis.unlink(...batch);
    return total;
  }
}
