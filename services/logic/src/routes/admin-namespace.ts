import { Type } from '@sinclair/typebox';
import { Errors, HeraldError, PLATFORMS, RoomName, compileValidator, isServedProtocol, isValidName, type Platform, type ProtocolName } from '@herald/protocol';
import {
  APNS_LIST_MAX_BYTES,
  APNS_LIST_MAX_ITEMS,
  APNS_SECRET_FIELDS,
  ApnsListTooLargeError,
  MAX_CLIENT_ROOMS_LIMIT,
  NamespaceCleanup,
  type ApnsSettings,
  type NamespaceRecord,
  type NamespaceStore,
} from '@herald/store';
import type { AdminNamespaceRouteContext } from './context';
import { flagParam, integerParam, readQuery } from './query';

const CallbackUrl = Type.Union([Type.Literal(''), Type.String({ maxLength: 2048, pattern: '^https?://[^\\s]+$' })]);

/** A certificate or key in PEM form, or `''` to remove it. */
const Pem = Type.String({ maxLength: 16 * 1024 });

/** One `apns_list` entry of a save (seed 002 route 13 item fields). */
const ApnsItem = Type.Object(
  {
    name: RoomName,
    apns_env: Type.Optional(Type.Unsafe<'dev' | 'production'>({ type: 'string', enum: ['dev', 'production'] })),
    apns_expiration: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 })),
    apns_topic: Type.Optional(Type.String({ maxLength: 255 })),
    apns_dev_cert: Type.Optional(Pem),
    apns_dev_key: Type.Optional(Pem),
    apns_production_cert: Type.Optional(Pem),
    apns_production_key: Type.Optional(Pem),
    token_key: Type.Optional(Pem),
    token_keyId: Type.Optional(Type.String({ maxLength: 32 })),
    token_teamId: Type.Optional(Type.String({ maxLength: 32 })),
    del: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** Body of `POST /api/admin/namespace/save` and `POST /api/auth/namespace/save`. */
const NamespaceSaveBody = Type.Object(
  {
    key: Type.String(),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    auth_passwd: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    connect_callback: Type.Optional(CallbackUrl),
    disconnect_callback: Type.Optional(CallbackUrl),
    callback_auth: Type.Optional(Type.String({ maxLength: 1024 })),
    offline: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
    apns_list: Type.Optional(Type.Array(ApnsItem, { maxItems: APNS_LIST_MAX_ITEMS })),
    inbox_platforms: Type.Optional(
      Type.Array(Type.Unsafe<Platform>({ type: 'string', enum: [...PLATFORMS] }), { minItems: 1, maxItems: PLATFORMS.length, uniqueItems: true }),
    ),
    max_client_rooms: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CLIENT_ROOMS_LIMIT })),
    /** Checked against the served protocols after the shape (PROTOCOL_UNKNOWN). */
    protocol: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
const validSave = compileValidator(NamespaceSaveBody);

/**
 * A PEM block. Checked because node-apn takes any other string for a file *path*: a tenant must not
 * make a worker read files of its host by naming one as its certificate.
 */
const PEM_PATTERN = /^\s*-----BEGIN [A-Z0-9 ]+-----\r?\n[\s\S]*?-----END [A-Z0-9 ]+-----\s*$/;

/**
 * Validates a namespace save and stores it: `key` first (seed order: `key is null`, `namespace
 * invalid`), then the shape, then the PEM blocks. `apns_list` is merged by name in the store.
 */
export async function saveNamespace(namespaces: NamespaceStore, body: unknown, clientIp: string): Promise<void> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HeraldError(Errors.BODY_INVALID, 'body must be a JSON object');
  }
  const key = (body as Record<string, unknown>)['key'];
  if (key === undefined || key === null || key === '') throw new HeraldError(Errors.KEY_IS_NULL);
  if (!isValidName('namespace', key)) throw new HeraldError(Errors.NAMESPACE_INVALID);
  if (!validSave(body)) throw new HeraldError(Errors.BODY_INVALID, validSave.lastError());
  if (body.protocol !== undefined && !isServedProtocol(body.protocol)) throw new HeraldError(Errors.PROTOCOL_UNKNOWN, JSON.stringify(body.protocol));
  body.apns_list?.forEach((item, i) => {
    for (const field of APNS_SECRET_FIELDS) {
      const value = item[field];
      if (value !== undefined && value !== '' && !PEM_PATTERN.test(value)) {
        throw new HeraldError(Errors.BODY_INVALID, `/apns_list/${i}/${field} must be a PEM block`);
      }
    }
  });
  try {
    await namespaces.save(body.key, {
      ...(body.name !== undefined && { name: body.name }),
      ...(body.auth_passwd !== undefined && { password: body.auth_passwd }),
      ...(body.connect_callback !== undefined && { connectCallback: body.connect_callback }),
      ...(body.disconnect_callback !== undefined && { disconnectCallback: body.disconnect_callback }),
      ...(body.callback_auth !== undefined && { callbackAuth: body.callback_auth }),
      ...(body.offline !== undefined && { offline: body.offline === 'on' }),
      ...(body.apns_list !== undefined && { apnsList: body.apns_list }),
      ...(body.inbox_platforms !== undefined && { inboxPlatforms: body.inbox_platforms }),
      ...(body.max_client_rooms !== undefined && { maxClientRooms: body.max_client_rooms }),
      ...(body.protocol !== undefined && { protocol: body.protocol as ProtocolName }),
      clientIp,
    });
  } catch (error) {
    if (!(error instanceof ApnsListTooLargeError)) throw error;
    const limit = error.limit === 'items' ? `at most ${APNS_LIST_MAX_ITEMS} configurations` : `at most ${APNS_LIST_MAX_BYTES} bytes of JSON`;
    throw new HeraldError(Errors.APNS_LIST_TOO_LARGE, limit);
  }
}

/** An APNs configuration as the API shows it: each secret replaced by `true` when it is set. */
export type PublicApnsSettings = Omit<ApnsSettings, (typeof APNS_SECRET_FIELDS)[number]> &
  Partial<Record<(typeof APNS_SECRET_FIELDS)[number], true>>;

/** A namespace as the API shows it (seed `GET /api/auth/namespace`), secrets redacted. */
export interface PublicNamespace {
  key: string;
  name: string;
  offline: 'on' | 'off';
  connect_callback: string;
  disconnect_callback: string;
  /** `true` when a REST password is set (the password itself is only stored hashed). */
  auth_passwd?: true;
  /** `true` when the callbacks' authorization is set. */
  callback_auth?: true;
  apns_list: PublicApnsSettings[];
  /** Present when set: the platforms whose clients get an inbox (unset: Android only). */
  inbox_platforms?: Platform[];
  /** Present when set: the most rooms a client may be a member of (unset: 1000). */
  max_client_rooms?: number;
  /** Present when set: the namespace's wire protocol (unset: `push`). */
  protocol?: ProtocolName;
  update_date: number;
  client_ip: string;
}

function publicApns(item: ApnsSettings): PublicApnsSettings {
  // Built field by field from a whitelist, never by copying the stored item.
  const out: Record<string, unknown> = { name: item.name };
  if (item.apns_env !== undefined) out['apns_env'] = item.apns_env;
  if (item.apns_expiration !== undefined) out['apns_expiration'] = item.apns_expiration;
  if (item.apns_topic !== undefined) out['apns_topic'] = item.apns_topic;
  for (const field of APNS_SECRET_FIELDS) if (item[field]) out[field] = true;
  if (item.token_keyId !== undefined) out['token_keyId'] = item.token_keyId;
  if (item.token_teamId !== undefined) out['token_teamId'] = item.token_teamId;
  return out as PublicApnsSettings;
}

/**
 * The redacted view of a namespace: passwords, callback authorization, certificates and keys are
 * never answered; each is replaced by `true` when set and left out when not (docs/api.md).
 */
export function publicNamespace(record: NamespaceRecord): PublicNamespace {
  return {
    key: record.key,
    name: record.name,
    offline: record.offline ? 'on' : 'off',
    connect_callback: record.connectCallback ?? '',
    disconnect_callback: record.disconnectCallback ?? '',
    ...(record.passwordHash !== undefined && { auth_passwd: true as const }),
    ...(record.callbackAuth !== undefined && { callback_auth: true as const }),
    apns_list: record.apnsList.map(publicApns),
    ...(record.inboxPlatforms !== undefined && { inbox_platforms: [...record.inboxPlatforms] }),
    ...(record.maxClientRoomsSet && { max_client_rooms: record.maxClientRooms }),
    ...(record.protocol !== undefined && { protocol: record.protocol }),
    update_date: record.updateDate,
    client_ip: record.clientIp ?? '',
  };
}

/** `:key` of the clear/flush routes: URL-decoded by the router, `/` prepended when missing (the SPA sends both). */
function namespaceParam(raw: string): string {
  const nsp = raw.startsWith('/') ? raw : `/${raw}`;
  if (!isValidName('namespace', nsp)) throw new HeraldError(Errors.NAMESPACE_INVALID);
  return nsp;
}

const NamespaceBody = Type.Object({ namespace: Type.String() }, { additionalProperties: false });
const validNamespaceBody = compileValidator(NamespaceBody);

/** `{namespace}` body of the clean-up routes. */
function namespaceBody(body: unknown): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HeraldError(Errors.BODY_INVALID, 'body must be a JSON object');
  const nsp = (body as Record<string, unknown>)['namespace'];
  if (nsp === undefined || nsp === null || nsp === '') throw new HeraldError(Errors.NAMESPACE_EMPTY);
  if (!isValidName('namespace', nsp)) throw new HeraldError(Errors.NAMESPACE_INVALID);
  if (!validNamespaceBody(body)) throw new HeraldError(Errors.BODY_INVALID, validNamespaceBody.lastError());
  return nsp;
}

function textParam(value: string | string[] | undefined, name: string, max: number): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value.length > max)) {
    throw new HeraldError(Errors.QUERY_INVALID, `${name} must be at most ${max} characters`);
  }
  return value;
}

/**
 * The operators' namespace routes (seed 002 routes 11–16): save, list, and the clean-ups. Every
 * clean-up requires the namespace to be `offline: on` first, so that no client or push changes its
 * data meanwhile.
 */
export function adminNamespaceRoutes({ app, namespaces, online, redis, keys, legacyClientHours }: AdminNamespaceRouteContext): void {
  const cleanup = new NamespaceCleanup(redis, keys);

  /** The namespace, which must exist and be offline. */
  async function offlineNamespace(nsp: string): Promise<NamespaceRecord> {
    const record = await namespaces.get(nsp);
    if (!record) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
    if (!record.offline) throw new HeraldError(Errors.NAMESPACE_MUST_BE_OFFLINE);
    return record;
  }

  async function clear(nsp: string): Promise<{ deletedKeys: number }> {
    await offlineNamespace(nsp);
    return { deletedKeys: await cleanup.clearData(nsp) };
  }

  async function flush(nsp: string): Promise<{ deletedKeys: number }> {
    await offlineNamespace(nsp);
    // Data first: if it fails half-way, the namespace is still there to flush again.
    const deletedKeys = await cleanup.clearData(nsp);
    return { deletedKeys: deletedKeys + (await namespaces.remove(nsp)) };
  }

  app.post('/api/admin/namespace/save', async (request) => {
    await saveNamespace(namespaces, request.body, request.ip);
    return {};
  });

  app.post('/api/admin/login', async () => ({}));

  app.get('/api/admin/namespace/list', async (request) => {
    const query = readQuery(request.query, ['page', 'pageSize', 'key', 'name', 'offline', 'online']);
    const page = integerParam(query['page'], 'page', 1, 1_000_000, 1);
    const pageSize = integerParam(query['pageSize'], 'pageSize', 1, 100, 20);
    const key = textParam(query['key'], 'key', 100);
    const name = textParam(query['name'], 'name', 100);
    const offline = query['offline'] ?? 'all';
    if (offline !== 'on' && offline !== 'off' && offline !== 'all') throw new HeraldError(Errors.QUERY_INVALID, 'offline must be on, off or all');
    const withOnline = flagParam(query['online'], 'online');

    const start = (page - 1) * pageSize;
    const selected: NamespaceRecord[] = [];
    let total = 0;
    for await (const records of namespaces.pages()) {
      for (const record of records) {
        if (key !== undefined && !record.key.includes(key)) continue;
        if (name !== undefined && !record.name.includes(name)) continue;
        if (offline !== 'all' && record.offline !== (offline === 'on')) continue;
        if (total >= start && selected.length < pageSize) selected.push(record);
        total++;
      }
    }
    const list = await Promise.all(
      selected.map(async (record) => {
        const entry = publicNamespace(record);
        if (!withOnline) return entry;
        const { roomCount, userCount, clientCount } = await online.namespace(record.key, false);
        return { ...entry, roomCount, userCount, clientCount };
      }),
    );
    return { list, total };
  });

  app.get<{ Params: { key: string } }>('/api/admin/namespace/clear/:key', async (request) => {
    readQuery(request.query, []);
    return clear(namespaceParam(request.params.key));
  });

  app.get<{ Params: { key: string } }>('/api/admin/namespace/flush/:key', async (request) => {
    readQuery(request.query, []);
    return flush(namespaceParam(request.params.key));
  });

  // The seed's first form, which the README documents (its `'true' === true` never flushed).
  app.get<{ Params: { key: string } }>('/api/admin/namespace/del/:key', async (request) => {
    const query = readQuery(request.query, ['flushAll']);
    const nsp = namespaceParam(request.params.key);
    return flagParam(query['flushAll'], 'flushAll') ? flush(nsp) : clear(nsp);
  });

  app.post('/api/admin/namespace/clear-realtime-data', async (request) => {
    const nsp = namespaceBody(request.body);
    await offlineNamespace(nsp);
    return { clientCount: await cleanup.clearRealtimeData(nsp) };
  });

  app.post('/api/admin/clear-legacy-client', async (request) => {
    const nsp = namespaceBody(request.body);
    await offlineNamespace(nsp);
    return cleanup.clearLegacyClients(nsp, Date.now() - legacyClientHours * 3_600_000);
  });
}
