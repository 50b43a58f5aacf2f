import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { SCRIPTS, runScript } from './scripts';

/** One stored message of a device queue: its id and `[event, ...args]`. */
export interface WebserviceEntry {
  readonly id: number;
  readonly payload: readonly unknown[];
}

/** What `POST /send` stored: the id and the devices (`<user room>|<deviceId>`) it was stored for. */
export interface WebserviceStored {
  readonly id: number;
  readonly devices: readonly string[];
}

export interface WebserviceSend {
  /** Rooms of the request (user rooms, shared rooms, the public channel). */
  readonly rooms: readonly string[];
  /** `[event, ...args]`, stored as JSON. */
  readonly payload: readonly unknown[];
  readonly userRoomPrefix: string;
  readonly publicChannel: string | undefined;
  /** Seconds; 0: devices never expire. */
  readonly deviceTtl: number;
  readonly now?: number;
  /**
   * Announce the message in the script itself (single Redis): PUBLISH on `channel` the text
   * `head + '"id":<id>,"devices":[…]' + tail`, so that announcements leave in id order.
   */
  readonly announce?: { readonly channel: string; readonly head: string; readonly tail: string };
}

export type WebserviceAckOutcome = 'ok' | 'gone' | 'resync';

type Command = 'webserviceConnect' | 'webserviceDisconnect' | 'webserviceSend' | 'webserviceAck' | 'webserviceBatchAck';

/**
 * The webservice protocol's Redis state (seed 001; docs/protocols/webservice.md): per namespace,
 * the rooms of each user (the expansion of shared rooms, cluster-wide), the devices of each user
 * room (connected or since when not), and one ordered queue per device. Every key shares the
 * namespace's hash tag (`<prefix>{<nsp>}:ws:`), so each change is one script on one slot:
 * libs/store/lua/webservice-*.lua say what each does.
 */
export class WebserviceStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
  }

  /** `<prefix>{<nsp>}:ws:`: every key of the namespace's webservice state starts with it. */
  base(namespace: string): string {
    return `${this.keys.prefix}{${namespace}}:ws:`;
  }

  private run(command: Command, namespace: string, args: (string | number)[]): Promise<unknown> {
    const base = this.base(namespace);
    return runScript(this.redis, SCRIPTS.get(command)!, [`${base}seq`], [base, ...args]);
  }

  /** A device connects: records the user's rooms, marks it connected, returns its queue (oldest first). */
  async connect(namespace: string, userRoom: string, deviceId: string, sid: string, rooms: readonly string[]): Promise<WebserviceEntry[]> {
    const lower = [...new Set(rooms.map((room) => room.toLowerCase()))];
    const [ids, payloads] = (await this.run('webserviceConnect', namespace, [userRoom, deviceId, sid, JSON.stringify(lower)])) as [string[], string[]];
    const entries: WebserviceEntry[] = [];
    ids.forEach((id, i) => {
      try {
        const payload: unknown = JSON.parse(payloads[i]!);
        if (Array.isArray(payload)) entries.push({ id: Number(id), payload });
      } catch {
        // Only Herald writes these values; a hand-edited one is skipped, not replayed broken.
      }
    });
    return entries;
  }

  /** The connection `sid` of a device ended (unless a newer one took over). */
  async disconnect(namespace: string, userRoom: string, deviceId: string, sid: string, deviceTtl: number, now = Date.now()): Promise<boolean> {
    return (await this.run('webserviceDisconnect', namespace, [userRoom, deviceId, sid, now, deviceTtl])) === 1;
  }

  /**
   * The connections of a connector that hold devices without being clients of their own (anonymous
   * sockets: no `deviceId`, or no user room of the prefix), which the core's reaper cannot find:
   * `["<user room>","<deviceId>","<sid>"]` per device. Recorded before the device is marked connected,
   * removed after it is marked disconnected, so a crash in between leaves a record, never a device.
   */
  private anonymousKey(namespace: string, connectorId: string): string {
    return `${this.base(namespace)}anon:${connectorId}`;
  }

  /** Connector `connectorId` holds device `deviceId` of `userRoom` by an anonymous connection `sid`. */
  async holdAnonymous(namespace: string, connectorId: string, userRoom: string, deviceId: string, sid: string): Promise<void> {
    await this.redis.sadd(this.anonymousKey(namespace, connectorId), JSON.stringify([userRoom, deviceId, sid]));
  }

  /** That connection ended (after `disconnect`). */
  async releaseAnonymous(namespace: string, connectorId: string, userRoom: string, deviceId: string, sid: string): Promise<void> {
    await this.redis.srem(this.anonymousKey(namespace, connectorId), JSON.stringify([userRoom, deviceId, sid]));
  }

  /**
   * Connector `connectorId` died: each device it held anonymously is disconnected since `now` (only
   * where that connection is still the device's current one), then the list is forgotten. Returns
   * the devices marked disconnected. Running it again finds nothing left to do.
   */
  async reapAnonymous(namespace: string, connectorId: string, deviceTtl: number, now = Date.now()): Promise<number> {
    const key = this.anonymousKey(namespace, connectorId);
    let ended = 0;
    for (const member of await this.redis.smembers(key)) {
      let parts: unknown;
      try {
        parts = JSON.parse(member);
      } catch {
        // Only Herald writes these members; a hand-edited one is dropped below.
      }
      if (Array.isArray(parts) && parts.length === 3 && parts.every((part) => typeof part === 'string')) {
        const [userRoom, deviceId, sid] = parts as [string, string, string];
        if (await this.disconnect(namespace, userRoom, deviceId, sid, deviceTtl, now)) ended++;
      }
      await this.redis.srem(key, member);
    }
    return ended;
  }

  /** Expands the rooms, prunes expired devices and stores the message for every other device. */
  async send(namespace: string, request: WebserviceSend): Promise<WebserviceStored> {
    const reply = (await this.run('webserviceSend', namespace, [
      request.now ?? Date.now(),
      request.deviceTtl,
      request.userRoomPrefix,
      request.publicChannel ?? '',
      JSON.stringify(request.payload),
      request.announce?.channel ?? '',
      request.announce?.head ?? '',
      request.announce?.tail ?? '',
      ...request.rooms,
    ])) as [number, ...string[]];
    const [id, ...devices] = reply;
    return { id: Number(id), devices };
  }

  /** The ack of one emitted entry (with `resync`: it must be the oldest of its event). */
  async ack(namespace: string, device: string, id: number, resync: boolean, event: string): Promise<WebserviceAckOutcome> {
    return (await this.run('webserviceAck', namespace, [device, id, resync ? '1' : '0', event])) as WebserviceAckOutcome;
  }

  /** The ack of a `_batch`: removes exactly the entries it carried. */
  async batchAck(namespace: string, device: string, ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(await this.run('webserviceBatchAck', namespace, [device, ...ids]));
  }

  /** The queue of a device, oldest first (tests, the ledger, admin). */
  async pending(namespace: string, device: string): Promise<WebserviceEntry[]> {
    const base = this.base(namespace);
    const ids = await this.redis.zrange(`${base}q:${device}`, 0, -1);
    if (ids.length === 0) return [];
    const payloads = await this.redis.hmget(`${base}m:${device}`, ...ids);
    return ids.map((id, i) => ({ id: Number(id), payload: JSON.parse(payloads[i] ?? 'null') as unknown[] }));
  }

  /** The devices of a user room and whether each is connected (tests, admin). */
  async devices(namespace: string, userRoom: string): Promise<Record<string, { connected: boolean; disconnectedAt?: number }>> {
    const raw = await this.redis.hgetall(`${this.base(namespace)}dev:${userRoom}`);
    const out: Record<string, { connected: boolean; disconnectedAt?: number }> = {};
    for (const [device, value] of Object.entries(raw)) {
      const bar = value.indexOf('|');
      out[device] = bar > 0 ? { connected: true } : { connected: false, disconnectedAt: Number(value.slice(bar + 1)) };
    }
    return out;
  }
}
