import { PLATFORMS, USER_ROOM_PREFIX } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { pipelineBySlot } from './slot-pipeline';

/** Seed `report_online_list_max_limit`: lists are included with `detail` up to this size. */
export const ONLINE_DETAIL_LIMIT = 1000;

export interface RoomOnline {
  name: string;
  userCount: number;
  clientCount: number;
  totalClientCount: number;
  iosClientCount: number;
  totalIOSClientCount: number;
  androidClientCount: number;
  totalAndroidClientCount: number;
  webClientCount: number;
  totalWebClientCount: number;
  client?: string[];
  user?: string[];
}

export interface NamespaceOnline {
  roomCount: number;
  userCount: number;
  clientCount: number;
  totalClientCount: number;
  room?: string[];
  client?: string[];
  user?: string[];
}

/**
 * The online report (seed `report-online.js`): who is online in rooms and namespaces, computed from
 * the presence sets the connectors keep. Lists are only read when small enough.
 */
export class OnlineReport {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async rooms(nsp: string, rooms: readonly string[], detail: boolean): Promise<RoomOnline[]> {
    const out: RoomOnline[] = [];
    for (const name of rooms) {
      const k = this.keys;
      const tx = this.redis.multi();
      tx.hlen(k.roomOnlineUsers(nsp, name)).scard(k.roomOnline(nsp, name)).scard(k.roomMembers(nsp, name));
      for (const p of PLATFORMS) tx.scard(k.roomOnlineBy(nsp, name, p)).scard(k.roomMembersBy(nsp, name, p));
      const n = ((await tx.exec()) ?? []).map(([error, value]) => {
        if (error) throw error;
        return value as number;
      });
      const [userCount, clientCount, totalClientCount, webOn, webAll, androidOn, androidAll, iosOn, iosAll] = n as [
        number, number, number, number, number, number, number, number, number,
      ];
      const entry: RoomOnline = {
        name,
        userCount,
        clientCount,
        totalClientCount,
        iosClientCount: iosOn,
        totalIOSClientCount: iosAll,
        androidClientCount: androidOn,
        totalAndroidClientCount: androidAll,
        webClientCount: webOn,
        totalWebClientCount: webAll,
      };
      if (detail && clientCount <= ONLINE_DETAIL_LIMIT) entry.client = (await this.redis.smembers(k.roomOnline(nsp, name))).sort();
      if (detail && userCount <= ONLINE_DETAIL_LIMIT) entry.user = (await this.redis.hkeys(k.roomOnlineUsers(nsp, name))).sort();
      out.push(entry);
    }
    return out;
  }

  /** Rooms of the namespace (user rooms excluded) with at least one client online. */
  async onlineRooms(nsp: string): Promise<string[]> {
    const online: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await this.redis.sscan(this.keys.namespaceRooms(nsp), cursor, 'COUNT', 500);
      cursor = next;
      const rooms = page.filter((room) => !room.startsWith(USER_ROOM_PREFIX));
      if (rooms.length === 0) continue;
      const key = (room: string) => this.keys.roomOnline(nsp, room);
      const counts = await pipelineBySlot(this.redis, rooms, key, (pipeline, room) => pipeline.scard(key(room)));
      rooms.forEach((room, i) => {
        if ((counts[i]![0] as number) > 0) online.push(room);
      });
    } while (cursor !== '0');
    return online.sort();
  }

  async namespace(nsp: string, detail: boolean): Promise<NamespaceOnline> {
    const k = this.keys;
    const [[, clientCount], [, userCount], [, totalClientCount]] = (await this.redis
      .multi()
      .scard(k.namespaceOnline(nsp))
      .hlen(k.namespaceOnlineUsers(nsp))
      .zcard(k.namespaceClients(nsp))
      .exec()) as [unknown, number][];
    const rooms = await this.onlineRooms(nsp);
    const out: NamespaceOnline = { roomCount: rooms.length, userCount, clientCount, totalClientCount };
    if (detail) {
      if (rooms.length <= ONLINE_DETAIL_LIMIT) out.room = rooms;
      if (clientCount <= ONLINE_DETAIL_LIMIT) out.client = (await this.redis.smembers(k.namespaceOnline(nsp))).sort();
      if (userCount <= ONLINE_DETAIL_LIMIT) out.user = (await this.redis.hkeys(k.namespaceOnlineUsers(nsp))).sort();
    }
    return out;
  }

  /** Sums over every registered namespace (admin report). */
  async all(): Promise<{ roomCount: number; userCount: number; clientCount: number }> {
    const total = { roomCount: 0, userCount: 0, clientCount: 0 };
    const names = await this.redis.zrange(this.keys.namespaceIndex(), 0, -1);
    for (const nsp of names) {
      const one = await this.namespace(nsp, false);
      total.roomCount += one.roomCount;
      total.userCount += one.userCount;
      total.clientCount += one.clientCount;
    }
    return total;
  }

  /**
   * Clients online now in a namespace, by platform (admin console). The platform is read from each
   * online clientId (`<nsp>#<userid>#<platform>-<uuid>`), the set walked with SSCAN in pages: the
   * cost grows with the namespace's online clients, never one giant reply.
   */
  async platforms(nsp: string): Promise<Record<(typeof PLATFORMS)[number], number>> {
    const out = Object.fromEntries(PLATFORMS.map((p) => [p, 0])) as Record<(typeof PLATFORMS)[number], number>;
    let cursor = '0';
    do {
      const [next, page] = await this.redis.sscan(this.keys.namespaceOnline(nsp), cursor, 'COUNT', 1000);
      cursor = next;
      for (const clientId of page) {
        const platform = clientId.split('#')[2]?.split('-')[0] as (typeof PLATFORMS)[number] | undefined;
        if (platform !== undefined && platform in out) out[platform]++;
      }
    } while (cursor !== '0');
    return out;
  }
}
