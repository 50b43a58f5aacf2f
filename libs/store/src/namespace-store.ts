import { hashPassword } from './password';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';

/** A namespace (tenant) as stored: seed `nsp_s_<nsp>`, with the password hashed. */
export interface NamespaceRecord {
  readonly key: string;
  readonly name: string;
  readonly offline: boolean;
  readonly connectCallback: string | undefined;
  readonly disconnectCallback: string | undefined;
  /** Sent as `authorization` to the callbacks; a secret. */
  readonly callbackAuth: string | undefined;
  /** scrypt hash of `auth_passwd`; undefined when the namespace has no REST password yet. */
  readonly passwordHash: string | undefined;
  readonly updateDate: number;
}

/** What an admin may change; `undefined` keeps the stored value. */
export interface NamespaceChanges {
  readonly name?: string;
  readonly offline?: boolean;
  readonly connectCallback?: string;
  readonly disconnectCallback?: string;
  readonly callbackAuth?: string;
  readonly password?: string;
  readonly clientIp?: string;
}

function fromHash(key: string, h: Record<string, string>): NamespaceRecord {
  return Object.freeze({
    key,
    name: h['name'] ?? '',
    offline: h['offline'] === 'on',
    connectCallback: h['connect_callback'] || undefined,
    disconnectCallback: h['disconnect_callback'] || undefined,
    callbackAuth: h['callback_auth'] || undefined,
    passwordHash: h['auth_passwd_hash'] || undefined,
    updateDate: Number(h['update_date'] ?? 0),
  });
}

export class NamespaceStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async get(nsp: string): Promise<NamespaceRecord | null> {
    const hash = await this.redis.hgetall(this.keys.namespace(nsp));
    return Object.keys(hash).length === 0 ? null : fromHash(nsp, hash);
  }

  /**
   * Creates or updates a namespace. A new namespace starts `offline: off` (seed). Other processes
   * are told through the namespace channel.
   * @returns true when the namespace was created.
   */
  async save(nsp: string, changes: NamespaceChanges): Promise<boolean> {
    const fields: Record<string, string> = { key: nsp, update_date: String(Date.now()) };
    if (changes.name !== undefined) fields['name'] = changes.name;
    if (changes.offline !== undefined) fields['offline'] = changes.offline ? 'on' : 'off';
    if (changes.connectCallback !== undefined) fields['connect_callback'] = changes.connectCallback;
    if (changes.disconnectCallback !== undefined) fields['disconnect_callback'] = changes.disconnectCallback;
    if (changes.callbackAuth !== undefined) fields['callback_auth'] = changes.callbackAuth;
    if (changes.clientIp !== undefined) fields['client_ip'] = changes.clientIp;
    if (changes.password !== undefined) fields['auth_passwd_hash'] = await hashPassword(changes.password);
    const key = this.keys.namespace(nsp);
    // The settings hash is written before the registry entry, so a registered namespace always has
    // settings. They are separate keys (separate slots on a cluster), hence no MULTI across them.
    const pipeline = this.redis.multi().hset(key, fields);
    if (changes.offline === undefined) pipeline.hsetnx(key, 'offline', 'off');
    await pipeline.exec();
    const created = (await this.redis.zadd(this.keys.namespaceIndex(), 'NX', 0, nsp)) === 1;
    await this.redis.publish(this.keys.namespaceChannel(), nsp);
    return created;
  }
}
