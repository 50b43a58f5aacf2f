import type { Platform } from '@herald/wire';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import type { Scripts } from './scripts';

export type DisconnectReason = 'network' | 'kicked' | 'namespace offline' | 'server shutdown' | 'connector lost' | 'identity changed';

/** A connection as the client record knows it. */
export interface Connection {
  readonly namespace: string;
  readonly userid: string;
  readonly uuid: string;
  readonly platform: Platform;
  /** The socket id: identifies this connection among the client's successive ones. */
  readonly sid: string;
  readonly connector: string;
}

/** Fields of the client record a client or its server may set (seed `info`, `POST /api/auth/client`). */
export const CLIENT_SETTINGS = ['device_token', 'mobile', 'system', 'leaveMessage'] as const;
export type ClientSettings = Partial<Record<(typeof CLIENT_SETTINGS)[number], string>>;

/** Fields of the record shown to the client itself (internals such as `sid` stay private). */
const PUBLIC_FIELDS = [
  'userid',
  'platform',
  'first_connect_time',
  'last_connect_time',
  'last_disconnect_time',
  'disconnect_reason',
  'update_date',
  ...CLIENT_SETTINGS,
] as const;

/** The client record (seed `c_h_<cid>`), its persistent rooms and its do-not-disturb rooms. */
export class ClientStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
  ) {}

  /** Records a new connection and returns the rooms the client joined before (persistent membership). */
  async connected(clientId: string, connection: Connection): Promise<string[]> {
    const key = this.keys.client(clientId);
    const now = String(Date.now());
    // Three commands in flight at once (one round trip), not a MULTI: the record needs no
    // atomicity (each command is idempotent and the set's SADD follows them), and a MULTI is one
    // more object per connect that outlives the round trip (docs/decisions.md, "A new connection's
    // record is written without a MULTI").
    const [, , rooms] = await Promise.all([
      this.redis.hset(key, { ...connection, last_connect_time: now }),
      this.redis.hsetnx(key, 'first_connect_time', now),
      this.redis.smembers(this.keys.clientRooms(clientId)),
    ]);
    await this.redis.sadd(this.keys.connectorClients(connection.connector), clientId);
    await this.presence(connection.namespace, clientId, connection.userid, 'on');
    return rooms;
  }

  private presence(namespace: string, clientId: string, userid: string, state: 'on' | 'off'): Promise<number> {
    const k = this.keys;
    return this.scripts.namespacePresence(
      [k.namespaceOnline(namespace), k.namespaceOnlineUsers(namespace), k.namespaceClients(namespace)],
      clientId,
      userid,
      state,
      Date.now(),
    );
  }

  /** Records the end of connection `sid`, unless a newer connection of the client replaced it. */
  async disconnected(
    clientId: string,
    connection: Pick<Connection, 'namespace' | 'userid' | 'sid' | 'connector'>,
    reason: DisconnectReason,
  ): Promise<boolean> {
    const updated = await this.scripts.clientDisconnect(this.keys.client(clientId), connection.sid, Date.now(), reason);
    const connectorClients = this.keys.connectorClients(connection.connector);
    await this.redis.srem(connectorClients, clientId);
    // A newer connection of the client on the same connector must stay listed there, or the reaper
    // would never clean it up if this connector died. It writes its record, then adds itself to
    // the set; this removes, then reads the record: in every interleaving one of the two re-adds it.
    if (updated === 0) {
      const [sid, connector] = await this.redis.hmget(this.keys.client(clientId), 'sid', 'connector');
      if (sid && sid !== connection.sid && connector === connection.connector) await this.redis.sadd(connectorClients, clientId);
    }
    // Only the current connection's end takes the client offline in the namespace.
    if (updated === 1) await this.presence(connection.namespace, clientId, connection.userid, 'off');
    return updated === 1;
  }

  /** Rooms the client joined and did not leave (user rooms excluded). */
  memberRooms(clientId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.clientRooms(clientId));
  }

  /** How many rooms the client is a member of (user rooms excluded), and which of `rooms` are among them. */
  async roomsAmong(clientId: string, rooms: readonly string[]): Promise<{ count: number; members: boolean[] }> {
    const key = this.keys.clientRooms(clientId);
    const tx = this.redis.multi().scard(key);
    if (rooms.length) tx.smismember(key, ...rooms);
    const results = (await tx.exec()) as [Error | null, unknown][];
    const flags = rooms.length ? (results[1]![1] as number[]) : [];
    return { count: results[0]![1] as number, members: flags.map((f) => f === 1) };
  }

  addRoom(clientId: string, room: string): Promise<number> {
    return this.redis.sadd(this.keys.clientRooms(clientId), room);
  }

  removeRoom(clientId: string, room: string): Promise<number> {
    return this.redis.srem(this.keys.clientRooms(clientId), room);
  }

  async publicRecord(clientId: string): Promise<Record<string, string>> {
    const values = await this.redis.hmget(this.keys.client(clientId), ...PUBLIC_FIELDS);
    const out: Record<string, string> = {};
    PUBLIC_FIELDS.forEach((field, i) => {
      if (values[i] !== null && values[i] !== undefined) out[field] = values[i]!;
    });
    return out;
  }

  /** Raw record (workers and the reaper need the internals). */
  record(clientId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.client(clientId));
  }

  async updateSettings(clientId: string, settings: ClientSettings): Promise<void> {
    await this.redis.hset(this.keys.client(clientId), { ...settings, update_date: String(Date.now()) });
  }

  /** Changes the do-not-disturb rooms (add first, then remove: remove wins) and returns them. */
  async changeMuted(clientId: string, add: readonly string[], remove: readonly string[]): Promise<string[]> {
    const key = this.keys.clientMuted(clientId);
    const tx = this.redis.multi();
    if (add.length) tx.sadd(key, ...add);
    if (remove.length) tx.srem(key, ...remove);
    tx.smembers(key);
    const results = (await tx.exec()) as [Error | null, unknown][];
    return (results[results.length - 1]![1] as string[]).sort();
  }
}
