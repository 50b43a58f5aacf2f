import { randomBytes } from 'node:crypto';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { RoomsyncKeys } from './roomsync-keys';
import { scriptCommand } from './scripts';

/** Seed 000's `msg` storage kinds: 0 insert (a list), 1 update (last write per msgId), 2 ignore. */
export type RoomsyncStorage = 0 | 1 | 2;

/**
 * How long a store call's mark is kept: the same call sent again within this time (ioredis resends
 * a command whose reply was lost with the connection) stores nothing.
 */
export const ROOMSYNC_STORE_MARK_MS = 600_000;

/** Seed 000's sync page size. */
export const ROOMSYNC_PAGE_SIZE = 200;

/** One stored message, as `room_msgs` shows it (seed 000 `{data, ts, uid}`). */
export interface RoomsyncEntry {
  /** The client's msg object, as relayed. */
  readonly data: unknown;
  /** When it was stored, unix seconds. */
  readonly ts: number;
  readonly uid: unknown;
}

/** One page of history in the seed's shape (`next` 1: ask again from `offset`). */
export interface RoomsyncPage<T> {
  readonly data: T[];
  readonly offset: number;
  readonly next: 0 | 1;
}

/** How long and how much history a namespace keeps (its protocol settings). */
export interface RoomsyncRetention {
  readonly maxMessages: number;
  readonly maxAgeS: number;
}

/**
 * The message history of roomsync rooms (seed 000 model.js: `msg_<room>_insert|update|ignore`),
 * with the retention the seed lacked. Every write and page is one script on the room's hash tag.
 */
export class RoomsyncHistory {
  private readonly rk: RoomsyncKeys;
  private readonly storeScript: ReturnType<typeof scriptCommand>;
  private readonly pageScript: ReturnType<typeof scriptCommand>;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
  ) {
    this.rk = new RoomsyncKeys(keys);
    this.storeScript = scriptCommand(redis, 'roomsyncStore');
    this.pageScript = scriptCommand(redis, 'roomsyncPage');
  }

  private roomKeys(nsp: string, room: string): [string, string, string, string] {
    return [this.rk.inserts(nsp, room), this.rk.updates(nsp, room), this.rk.updateOrder(nsp, room), this.rk.ignored(nsp, room)];
  }

  /**
   * Stores a message; `entry` is written with `ts` first (the script's age check reads it there).
   * Each call carries a mark of its own, so the call sent again after a lost reply stores nothing:
   * resolves false then (the message was stored by the first run).
   */
  async store(nsp: string, room: string, storage: RoomsyncStorage, msgId: string, entry: RoomsyncEntry, retention: RoomsyncRetention, now = Date.now()): Promise<boolean> {
    const json = `{"ts":${Math.floor(entry.ts)},"uid":${JSON.stringify(entry.uid ?? null)},"data":${JSON.stringify(entry.data)}}`;
    const written = await this.storeScript(
      ...this.roomKeys(nsp, room),
      this.rk.storeMark(nsp, randomBytes(9).toString('base64url')),
      storage,
      msgId,
      json,
      now,
      retention.maxMessages,
      retention.maxAgeS,
      ROOMSYNC_STORE_MARK_MS,
    );
    return written !== -1;
  }

  /**
   * The seed's page from `offset`: up to 200 inserts; when fewer remain, every update after them
   * and `next: 0`. `offset` in the answer counts everything returned, updates included (seed).
   */
  async page(nsp: string, room: string, offset: number): Promise<RoomsyncPage<RoomsyncEntry>> {
    const [ins, upd, order] = this.roomKeys(nsp, room);
    const [inserts, updates] = (await this.pageScript(
      ins,
      upd,
      order,
      offset,
      ROOMSYNC_PAGE_SIZE,
    )) as [string[], string[]];
    const data: RoomsyncEntry[] = [];
    for (const raw of [...inserts, ...updates]) {
      try {
        data.push(JSON.parse(raw) as RoomsyncEntry);
      } catch {
        // Written by nothing but the store script; a hand edit is skipped, not thrown to a client.
      }
    }
    return { data, offset: offset + data.length, next: inserts.length < ROOMSYNC_PAGE_SIZE ? 0 : 1 };
  }

  /** Removes every message of the room (admin `clear_room_msg`). */
  async clear(nsp: string, room: string): Promise<void> {
    await this.redis.del(...this.roomKeys(nsp, room));
  }
}
