import { clientIdOf } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { RoomsyncKeys } from './roomsync-keys';
import { scriptCommand } from './scripts';

/** An authenticated roomsync connection, cluster-wide. */
export interface RoomsyncUser {
  readonly sid: string;
  /** The uid as the client sent it (a number stays a number in `remote_join`). */
  readonly uid: string | number;
  /** The room it is in, once it joined one. */
  readonly room?: string;
  /** It joined that room as a dummy (invisible: nothing is announced about it). */
  readonly dummy?: boolean;
}

/** A member of a roomsync room. */
export interface RoomsyncMember {
  readonly sid: string;
  readonly uid: string | number;
  /** A peeping client: invisible to the others (seed 000 `dummy`). */
  readonly dummy: boolean;
}

type Call = (...a: (string | number)[]) => Promise<unknown>;

/**
 * Who is online in a roomsync namespace and in which room, cluster-wide (seed 000 kept it in each
 * process's memory, so rosters and kickout stopped at the process). Entries carry their
 * connection: a clean-up never removes what a newer connection of the same uid wrote.
 *
 * What is read is checked against the core's client records (the client of uid `u` is
 * `<nsp>#u#web-u`): an entry whose connection is no longer the client's current one was left by a
 * connector that died before its clean-up (the reaper ended its connections), and is dropped.
 */
export class RoomsyncPresence {
  private readonly rk: RoomsyncKeys;
  private readonly call: Call;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    this.rk = new RoomsyncKeys(keys);
    this.call = scriptCommand(redis, 'roomsyncPresence') as Call;
  }

  /** Records the user online on this connection; resolves with the connection it replaces, if any. */
  async online(nsp: string, user: RoomsyncUser): Promise<RoomsyncUser | undefined> {
    const uid = String(user.uid);
    const previous = (await this.call(this.rk.users(nsp), this.rk.room(nsp, ''), this.rk.rooms(nsp), 'online', uid, user.sid, JSON.stringify(user), '', '')) as string | null;
    return previous ? (JSON.parse(previous) as RoomsyncUser) : undefined;
  }

  /** The user's current connection, if it is online. */
  async user(nsp: string, uid: string): Promise<RoomsyncUser | undefined> {
    const value = await this.redis.hget(this.rk.users(nsp), uid);
    return value ? (JSON.parse(value) as RoomsyncUser) : undefined;
  }

  /** Adds the member to the room; resolves with every member of the room, itself included. */
  async join(nsp: string, room: string, member: RoomsyncMember, user: RoomsyncUser): Promise<RoomsyncMember[]> {
    const uid = String(member.uid);
    const flat = (await this.call(
      this.rk.users(nsp),
      this.rk.room(nsp, room),
      this.rk.rooms(nsp),
      'join',
      uid,
      member.sid,
      JSON.stringify(member),
      room,
      JSON.stringify({ ...user, room }),
    )) as string[];
    const members: RoomsyncMember[] = [];
    for (let i = 1; i < flat.length; i += 2) members.push(JSON.parse(flat[i]!) as RoomsyncMember);
    return this.alive(nsp, members, room);
  }

  /**
   * The entries whose connection is still their client's current one; the others are removed
   * (compare-and-delete: a newer connection's entry is never touched).
   */
  private async alive<T extends { readonly sid: string; readonly uid: string | number }>(nsp: string, entries: T[], room: string | undefined): Promise<T[]> {
    const current = await Promise.all(entries.map((e) => this.redis.hget(this.keys.client(clientIdOf(nsp, String(e.uid), 'web', String(e.uid))), 'sid')));
    const stale = entries.filter((e, i) => current[i] !== e.sid);
    await Promise.all(stale.map((e) => this.leave(nsp, room, e.uid, e.sid, room === undefined)));
    return entries.filter((e, i) => current[i] === e.sid);
  }

  /** Removes the connection from the room (and, `offline`, from the online users). */
  async leave(nsp: string, room: string | undefined, uid: string | number, sid: string, offline: boolean): Promise<void> {
    await this.call(this.rk.users(nsp), this.rk.room(nsp, room ?? ''), this.rk.rooms(nsp), offline ? 'offline' : 'leave', String(uid), sid, '', room ?? '', '');
  }

  /** The room's members (admin `room_users`, the system push's "room exists"). */
  async members(nsp: string, room: string): Promise<RoomsyncMember[]> {
    const values = await this.redis.hvals(this.rk.room(nsp, room));
    return this.alive(nsp, values.map((v) => JSON.parse(v) as RoomsyncMember), room);
  }

  /** Every online user and every room with members (admin `stat`). */
  async snapshot(nsp: string): Promise<{ users: RoomsyncUser[]; rooms: string[] }> {
    const users = await this.alive(nsp, (await this.redis.hvals(this.rk.users(nsp))).map((v) => JSON.parse(v) as RoomsyncUser), undefined);
    // A room of dead entries only is dropped from the set when its members are read.
    const rooms: string[] = [];
    for (const room of await this.redis.smembers(this.rk.rooms(nsp))) if ((await this.members(nsp, room)).length > 0) rooms.push(room);
    return { users, rooms: rooms.sort() };
  }
}
