import { PLATFORMS, USER_ROOM_PREFIX, type Platform } from '@herald/wire';
import type { ClientSettings } from './client-store';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { pipelineBySlot } from './slot-pipeline';

/**
 * Operations on every member of a room (online or not), page by page so that a room of any size
 * never builds one giant reply nor blocks Redis: transfer, and settings applied room-wide.
 */
export class RoomMembers {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Pages of a room's members of one platform. */
  async *pages(nsp: string, room: string, platform: Platform, count = 500): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, page] = await this.redis.sscan(this.keys.roomMembersBy(nsp, room, platform), cursor, 'COUNT', count);
      cursor = next;
      if (page.length) yield page;
    } while (cursor !== '0');
  }

  /** Pages of a room's members of every platform. */
  async *all(nsp: string, room: string): AsyncGenerator<string[]> {
    for (const platform of PLATFORMS) yield* this.pages(nsp, room, platform);
  }

  /**
   * Transfer (REST `/api/auth/transfer`), membership part: every member of the source rooms becomes
   * (join) or stops being (leave) a member of the target, in the room sets and in each client's room
   * list. Online sockets are moved by the connectors. Returns how many clients were visited.
   */
  async transfer(nsp: string, sources: readonly string[], target: string, type: 'join' | 'leave'): Promise<number> {
    const k = this.keys;
    let visited = 0;
    for (const source of sources) {
      for (const platform of PLATFORMS) {
        for await (const page of this.pages(nsp, source, platform)) {
          visited += page.length;
          const roomTx = this.redis.multi();
          if (type === 'join') roomTx.sadd(k.roomMembers(nsp, target), ...page).sadd(k.roomMembersBy(nsp, target, platform), ...page);
          else roomTx.srem(k.roomMembers(nsp, target), ...page).srem(k.roomMembersBy(nsp, target, platform), ...page);
          await roomTx.exec();
          if (target.startsWith(USER_ROOM_PREFIX)) continue;
          await pipelineBySlot(this.redis, page, (clientId) => k.clientRooms(clientId), (pipeline, clientId) => {
            if (type === 'join') pipeline.sadd(k.clientRooms(clientId), target);
            else pipeline.srem(k.clientRooms(clientId), target);
          });
        }
      }
    }
    if (type === 'join') await this.redis.sadd(k.namespaceRooms(nsp), target);
    return visited;
  }

  /**
   * The first member of the source rooms that joining `target` would take past `max` rooms (its room
   * list, user rooms excluded), or undefined: a transfer refuses as a whole rather than join some.
   */
  async firstOverRoomLimit(nsp: string, sources: readonly string[], target: string, max: number): Promise<string | undefined> {
    const k = this.keys;
    for (const source of sources) {
      for await (const page of this.all(nsp, source)) {
        const replies = await pipelineBySlot(this.redis, page, (clientId) => k.clientRooms(clientId), (pipeline, clientId) => {
          pipeline.scard(k.clientRooms(clientId)).sismember(k.clientRooms(clientId), target);
        });
        const over = page.findIndex((_, i) => replies[i]![1] === 0 && (replies[i]![0] as number) + 1 > max);
        if (over >= 0) return page[over];
      }
    }
    return undefined;
  }

  /** Applies client settings (e.g. `leaveMessage`) to every member of a room; returns how many. */
  async applySettings(nsp: string, room: string, settings: ClientSettings): Promise<number> {
    let count = 0;
    const fields = { ...settings, update_date: String(Date.now()) };
    for await (const page of this.all(nsp, room)) {
      await pipelineBySlot(this.redis, page, (clientId) => this.keys.client(clientId), (pipeline, clientId) => {
        pipeline.hset(this.keys.client(clientId), fields);
      });
      count += page.length;
    }
    return count;
  }

  /** Adds and removes do-not-disturb rooms on every member of a room (remove wins); returns how many. */
  async changeMuted(nsp: string, room: string, add: readonly string[], remove: readonly string[]): Promise<number> {
    let count = 0;
    for await (const page of this.all(nsp, room)) {
      await pipelineBySlot(this.redis, page, (clientId) => this.keys.clientMuted(clientId), (pipeline, clientId) => {
        if (add.length) pipeline.sadd(this.keys.clientMuted(clientId), ...add);
        if (remove.length) pipeline.srem(this.keys.clientMuted(clientId), ...remove);
      });
      count += page.length;
    }
    return count;
  }
}
