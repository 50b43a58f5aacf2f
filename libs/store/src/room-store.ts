import type { Platform } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import type { Scripts } from './scripts';

/** A client as the room sets know it. */
export interface RoomClient {
  readonly clientId: string;
  readonly userid: string;
  readonly platform: Platform;
}

/** Who is in which room, online now and for offline delivery (docs/data-model.md, "Rooms"). */
export class RoomStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
  ) {}

  private sixKeys(nsp: string, room: string, platform: Platform): [string, string, string, string, string, string] {
    const k = this.keys;
    return [
      k.roomOnline(nsp, room),
      k.roomOnlineBy(nsp, room, platform),
      k.roomMembers(nsp, room),
      k.roomMembersBy(nsp, room, platform),
      k.roomOnlineUsers(nsp, room),
      k.roomOnlineConnections(nsp, room),
    ];
  }

  /** The client joins through `connection` (its socket id), which then owns its presence in the room. */
  async join(nsp: string, room: string, client: RoomClient, connection: string): Promise<number> {
    const [added] = await Promise.all([
      this.scripts.roomJoin(this.sixKeys(nsp, room, client.platform), client.clientId, client.userid, connection),
      // The namespace's room index (another slot): reports and clean-up find rooms without KEYS.
      this.redis.sadd(this.keys.namespaceRooms(nsp), room),
    ]);
    return added;
  }

  leave(nsp: string, room: string, client: RoomClient): Promise<number> {
    return this.scripts.roomLeave(this.sixKeys(nsp, room, client.platform), client.clientId, client.userid);
  }

  /**
   * The client's connection `connection` is gone: it is no longer online in the room, but stays a
   * member — unless a newer connection of the client joined the room since (it reconnected before
   * this clean-up ran), which keeps it online.
   */
  offline(nsp: string, room: string, client: RoomClient, connection: string): Promise<number> {
    const k = this.keys;
    return this.scripts.roomOffline(
      [k.roomOnline(nsp, room), k.roomOnlineBy(nsp, room, client.platform), k.roomOnlineUsers(nsp, room), k.roomOnlineConnections(nsp, room)],
      client.clientId,
      client.userid,
      connection,
    );
  }

  /**
   * How many clients of the room are online, not counting `except`: the push response's
   * `expectAckCount` (DESIGN.md, Delivery semantics).
   */
  async expectedAcks(nsp: string, room: string, except: string | undefined): Promise<number> {
    const key = this.keys.roomOnline(nsp, room);
    if (except === undefined) return this.redis.scard(key);
    const [[, count], [, excluded]] = (await this.redis.multi().scard(key).sismember(key, except).exec()) as [
      [Error | null, number],
      [Error | null, number],
    ];
    return count - excluded;
  }
}
