import { PROTOCOL_NAMES, isPlatform, type Platform, type ProtocolName, type ProtocolSettingsValues } from '@herald/wire';
import { hashPassword } from './password';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { Scripts } from './scripts';

/**
 * One APNs configuration of a namespace (seed 002 `apns_list` item), stored with the seed's field
 * names. A push names it with `apnsName`. Token authentication (`token_*`) wins over certificates
 * when `token_key` is set; otherwise `apns_env` chooses the dev or production certificate and key.
 */
export interface ApnsSettings {
  readonly name: string;
  readonly apns_env?: 'dev' | 'production';
  /** `apns-expiration` of the notifications (seconds, as node-apn's `expiry`). */
  readonly apns_expiration?: number;
  readonly apns_topic?: string;
  /** PEM; a secret, never shown by the API. */
  readonly apns_dev_cert?: string;
  /** PEM; a secret. */
  readonly apns_dev_key?: string;
  /** PEM; a secret. */
  readonly apns_production_cert?: string;
  /** PEM; a secret. */
  readonly apns_production_key?: string;
  /** The `.p8` signing key, PEM; a secret. */
  readonly token_key?: string;
  readonly token_keyId?: string;
  readonly token_teamId?: string;
}

/** One entry of a save's `apns_list`: merged by `name`; `del: true` removes that configuration. */
export type ApnsChange = Partial<Omit<ApnsSettings, 'name'>> & { readonly name: string; readonly del?: boolean };

/** Fields of an APNs configuration whose values are secrets. */
export const APNS_SECRET_FIELDS = ['apns_dev_cert', 'apns_dev_key', 'apns_production_cert', 'apns_production_key', 'token_key'] as const;
/** Fields of an APNs configuration that are not secrets. */
export const APNS_PLAIN_FIELDS = ['apns_env', 'apns_expiration', 'apns_topic', 'token_keyId', 'token_teamId'] as const;

/** Most APNs configurations a namespace may hold (the save body allows as many per request). */
export const APNS_LIST_MAX_ITEMS = 50;
/**
 * Most bytes the JSON of a namespace's APNs list may take. Every handshake reads the namespace
 * hash, so its size is bounded: 50 certificate-based configurations of usual size fit.
 */
export const APNS_LIST_MAX_BYTES = 512 * 1024;

/** The merged APNs list would exceed APNS_LIST_MAX_ITEMS or APNS_LIST_MAX_BYTES; nothing was saved. */
export class ApnsListTooLargeError extends Error {
  override readonly name = 'ApnsListTooLargeError';
  constructor(readonly limit: 'items' | 'bytes') {
    super(`apns_list would exceed its ${limit === 'items' ? `${APNS_LIST_MAX_ITEMS} items` : `${APNS_LIST_MAX_BYTES} bytes`}`);
  }
}

/** Rooms a client of a namespace may be a member of, when the namespace does not say (`max_client_rooms`). */
export const DEFAULT_MAX_CLIENT_ROOMS = 1000;
/**
 * Highest `max_client_rooms` a namespace may set. Every connect re-joins all of a client's rooms
 * (one script each), so this bounds a single handshake's work.
 */
export const MAX_CLIENT_ROOMS_LIMIT = 10_000;

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
  /** APNs configurations, in the order they were added; holds secrets. */
  readonly apnsList: readonly ApnsSettings[];
  /** Address of the last caller that saved the namespace. */
  readonly clientIp: string | undefined;
  readonly updateDate: number;
  /**
   * Platforms whose clients get an inbox for offline delivery (`inbox_platforms`); undefined when
   * not set, which means Android only (the worker's default).
   */
  readonly inboxPlatforms: readonly Platform[] | undefined;
  /** Rooms a client may be a member of (user room excluded); `max_client_rooms`, DEFAULT_MAX_CLIENT_ROOMS when unset. */
  readonly maxClientRooms: number;
  /** Whether `max_client_rooms` was set (the API shows it only then). */
  readonly maxClientRoomsSet: boolean;
  /**
   * The wire protocol of the namespace's clients (`protocol`); undefined when never set, which
   * means `push` (DEFAULT_PROTOCOL) — every record saved before the field existed.
   */
  readonly protocol: ProtocolName | undefined;
  /**
   * The settings of the namespace's protocol (`protocol_settings`, PROTOCOL_SETTINGS in
   * `@herald/wire`): hashed secrets as stored, every other field as saved; `{}` when none.
   */
  readonly protocolSettings: ProtocolSettingsValues;
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
  /** Merged into the stored list by name (see ApnsChange). */
  readonly apnsList?: readonly ApnsChange[];
  /** Replaces the stored inbox platforms. */
  readonly inboxPlatforms?: readonly Platform[];
  /** 1 to MAX_CLIENT_ROOMS_LIMIT (the route checks it). */
  readonly maxClientRooms?: number;
  /** Replaces the stored protocol (the caller checks it is served). */
  readonly protocol?: ProtocolName;
  /** Merged into the stored protocol settings; `null` removes a field (the caller checks and hashes). */
  readonly protocolSettings?: Readonly<Record<string, unknown>>;
  /** Drop the stored protocol settings before the merge (the protocol changes). */
  readonly resetProtocolSettings?: boolean;
}

/**
 * The stored APNs list, read defensively: only known fields of the right type are kept, so a hand
 * edited or corrupt value can neither break a handshake nor carry unknown fields into an answer.
 */
function parseApnsList(json: string | undefined): ApnsSettings[] {
  if (!json) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const list: ApnsSettings[] = [];
  for (const item of raw as unknown[]) {
    if (item === null || typeof item !== 'object' || typeof (item as { name?: unknown }).name !== 'string') continue;
    const source = item as Record<string, unknown>;
    const out: Record<string, unknown> = { name: source['name'] };
    for (const field of [...APNS_SECRET_FIELDS, 'apns_topic', 'token_keyId', 'token_teamId'] as const) {
      if (typeof source[field] === 'string') out[field] = source[field];
    }
    if (source['apns_env'] === 'dev' || source['apns_env'] === 'production') out['apns_env'] = source['apns_env'];
    if (Number.isSafeInteger(source['apns_expiration'])) out['apns_expiration'] = source['apns_expiration'];
    list.push(Object.freeze(out as unknown as ApnsSettings));
  }
  return list;
}

/** A namespace without its APNs list (NamespaceStore.settings). */
export type NamespaceSettings = Omit<NamespaceRecord, 'apnsList'>;

/** Hash fields of everything but the APNs list. */
const SETTINGS_FIELDS = ['key', 'name', 'offline', 'connect_callback', 'disconnect_callback', 'callback_auth', 'auth_passwd_hash', 'client_ip', 'update_date', 'inbox_platforms', 'max_client_rooms', 'protocol', 'protocol_settings'] as const;

/** The stored `protocol_settings`, read defensively: anything but a JSON object is `{}`. */
function parseProtocolSettings(json: string | undefined): ProtocolSettingsValues {
  if (!json) return EMPTY_SETTINGS;
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.freeze(value as Record<string, unknown>) : EMPTY_SETTINGS;
  } catch {
    return EMPTY_SETTINGS;
  }
}
const EMPTY_SETTINGS: ProtocolSettingsValues = Object.freeze({});

/** The stored `inbox_platforms` (comma-separated): known platforms only, undefined when unset. */
function parseInboxPlatforms(value: string | undefined): readonly Platform[] | undefined {
  if (!value) return undefined;
  return Object.freeze(value.split(',').filter(isPlatform));
}

/** The stored `max_client_rooms`, read defensively: a value out of bounds is the default. */
function parseMaxClientRooms(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isSafeInteger(n) && n >= 1 && n <= MAX_CLIENT_ROOMS_LIMIT ? n : undefined;
}

function fromHash(key: string, h: Record<string, string>): NamespaceRecord {
  const maxClientRooms = parseMaxClientRooms(h['max_client_rooms']);
  return Object.freeze({
    key,
    name: h['name'] ?? '',
    offline: h['offline'] === 'on',
    connectCallback: h['connect_callback'] || undefined,
    disconnectCallback: h['disconnect_callback'] || undefined,
    callbackAuth: h['callback_auth'] || undefined,
    passwordHash: h['auth_passwd_hash'] || undefined,
    apnsList: Object.freeze(parseApnsList(h['apns_list'])),
    clientIp: h['client_ip'] || undefined,
    updateDate: Number(h['update_date'] ?? 0),
    inboxPlatforms: parseInboxPlatforms(h['inbox_platforms']),
    maxClientRooms: maxClientRooms ?? DEFAULT_MAX_CLIENT_ROOMS,
    maxClientRoomsSet: maxClientRooms !== undefined,
    protocol: (PROTOCOL_NAMES as readonly string[]).includes(h['protocol'] ?? '') ? (h['protocol'] as ProtocolName) : undefined,
    protocolSettings: parseProtocolSettings(h['protocol_settings']),
  });
}

export class NamespaceStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scripts: Scripts = new Scripts(redis),
  ) {}

  /**
   * The namespace without its APNs list: what every handshake and every REST authentication needs,
   * without reading and parsing up to 512 KiB of certificates each time.
   */
  async settings(nsp: string): Promise<NamespaceSettings | null> {
    const values = await this.redis.hmget(this.keys.namespace(nsp), ...SETTINGS_FIELDS);
    if (values.every((v) => v === null)) return null;
    const hash: Record<string, string> = {};
    SETTINGS_FIELDS.forEach((field, i) => {
      if (values[i] !== null && values[i] !== undefined) hash[field] = values[i]!;
    });
    const { apnsList: _omitted, ...settings } = fromHash(nsp, hash);
    return Object.freeze(settings);
  }

  async get(nsp: string): Promise<NamespaceRecord | null> {
    const hash = await this.redis.hgetall(this.keys.namespace(nsp));
    return Object.keys(hash).length === 0 ? null : fromHash(nsp, hash);
  }

  /**
   * Every registered namespace, in name order, `count` records per page. A name in the registry
   * whose settings are gone (a flush under way) is skipped.
   */
  async *pages(count = 200): AsyncGenerator<NamespaceRecord[]> {
    for (let start = 0; ; start += count) {
      const names = await this.redis.zrange(this.keys.namespaceIndex(), start, start + count - 1);
      if (names.length === 0) return;
      const hashes = await Promise.all(names.map((nsp) => this.redis.hgetall(this.keys.namespace(nsp))));
      yield names.flatMap((nsp, i) => (Object.keys(hashes[i]!).length === 0 ? [] : [fromHash(nsp, hashes[i]!)]));
      if (names.length < count) return;
    }
  }

  /**
   * Creates or updates a namespace. A new namespace starts `offline: off` (seed). The APNs list is
   * merged by name in the same script as the other fields. Other processes are told through the
   * namespace channel (connectors read the record on every handshake, workers rebuild their APNs
   * providers).
   * @returns true when the namespace was created.
   * @throws ApnsListTooLargeError when the merged APNs list would be too large (nothing saved).
   */
  async save(nsp: string, changes: NamespaceChanges): Promise<boolean> {
    const fields: Record<string, string> = { key: nsp, update_date: String(Date.now()) };
    if (changes.name !== undefined) fields['name'] = changes.name;
    if (changes.offline !== undefined) fields['offline'] = changes.offline ? 'on' : 'off';
    if (changes.connectCallback !== undefined) fields['connect_callback'] = changes.connectCallback;
    if (changes.disconnectCallback !== undefined) fields['disconnect_callback'] = changes.disconnectCallback;
    if (changes.callbackAuth !== undefined) fields['callback_auth'] = changes.callbackAuth;
    if (changes.clientIp !== undefined) fields['client_ip'] = changes.clientIp;
    if (changes.inboxPlatforms !== undefined) fields['inbox_platforms'] = changes.inboxPlatforms.join(',');
    if (changes.maxClientRooms !== undefined) fields['max_client_rooms'] = String(changes.maxClientRooms);
    if (changes.protocol !== undefined) fields['protocol'] = changes.protocol;
    if (changes.password !== undefined) fields['auth_passwd_hash'] = await hashPassword(changes.password);
    // The settings hash is written before the registry entry, so a registered namespace always has
    // settings. They are separate keys (separate slots on a cluster), hence no MULTI across them.
    const written = await this.scripts.namespaceSave(
      this.keys.namespace(nsp),
      changes.apnsList === undefined ? '' : JSON.stringify(changes.apnsList),
      APNS_LIST_MAX_ITEMS,
      APNS_LIST_MAX_BYTES,
      changes.protocolSettings === undefined ? '' : JSON.stringify(changes.protocolSettings),
      changes.resetProtocolSettings === true,
      Object.entries(fields).flat(),
    );
    if (written === -1) throw new ApnsListTooLargeError('items');
    if (written === -2) throw new ApnsListTooLargeError('bytes');
    const created = (await this.redis.zadd(this.keys.namespaceIndex(), 'NX', 0, nsp)) === 1;
    await this.redis.publish(this.keys.namespaceChannel(), nsp);
    return created;
  }

  /**
   * Removes a namespace's settings and its registry entry, and tells every process (connectors drop
   * its sockets). Its data is NamespaceCleanup's business and must be removed first.
   * @returns 1 when the settings existed, else 0.
   */
  async remove(nsp: string): Promise<number> {
    await this.redis.zrem(this.keys.namespaceIndex(), nsp);
    const deleted = await this.redis.del(this.keys.namespace(nsp));
    await this.redis.publish(this.keys.namespaceChannel(), nsp);
    return deleted;
  }
}
