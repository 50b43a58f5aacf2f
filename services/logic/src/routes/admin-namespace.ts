import { Type, type Static } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  DISPLAY_NAME_PATTERN_SOURCE,
  Errors,
  HeraldError,
  NAME_LIMITS,
  NamespaceName,
  PLATFORMS,
  RoomName,
  checkOrder,
  isRefusedCallbackHost,
  onError,
  patternMeaning,
  isServedProtocol,
  DEFAULT_PROTOCOL,
  checkProtocolSettings,
  protocolSettingsSpec,
  publicProtocolSettings,
  type Platform,
  type ProtocolName,
} from '@herald/wire';
import {
  APNS_LIST_MAX_BYTES,
  APNS_LIST_MAX_ITEMS,
  APNS_SECRET_FIELDS,
  ApnsListTooLargeError,
  MAX_CLIENT_ROOMS_LIMIT,
  NamespaceCleanup,
  hashSecret,
  type ApnsSettings,
  type NamespaceRecord,
  type NamespaceStore,
} from '@herald/store';
import type { AdminNamespaceRouteContext } from './context';
import { FlagParam, IntegerParam, NoQuery, TextParam } from './query-params';
import { Empty, answers } from './responses';

/** One character of a name (names.ts NAME_PATTERN), as JSON-schema source. */
const NAME_CHARS = RoomName.pattern!.slice(1, -2);

/**
 * A callback URL, or `''` to remove it: http(s), no credentials in it (they would show in logs and
 * views: the authorization goes in `callback_auth`).
 */
const CallbackUrl = Type.String({
  maxLength: 2048,
  pattern: '^(?:|https?://[^\\s/?#@]+(?:[/?#]\\S*)?)$',
  description: 'http(s) URL without credentials, or `""` to remove it.',
  ...patternMeaning('must be an http(s) URL without credentials, or ""'),
});

/**
 * A PEM block, or `''` to remove it. Checked because node-apn takes any other string for a file
 * *path*: a tenant must not make a worker read files of its host by naming one as its certificate.
 */
const Pem = Type.String({
  maxLength: 16 * 1024,
  pattern: '^(?:|\\s*-----BEGIN [A-Z0-9 ]+-----\\r?\\n[\\s\\S]*?-----END [A-Z0-9 ]+-----\\s*)$',
  ...patternMeaning('must be a PEM block'),
});

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

/** The settings of a namespace save (both save routes). */
const SettingFields = {
  name: Type.Optional(
    Type.String({ maxLength: 100, pattern: DISPLAY_NAME_PATTERN_SOURCE, description: 'Display name.', ...patternMeaning('must not contain control or bidi characters') }),
  ),
  auth_passwd: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The REST password (stored hashed, never shown).' })),
  connect_callback: Type.Optional(CallbackUrl),
  disconnect_callback: Type.Optional(CallbackUrl),
  callback_auth: Type.Optional(
    Type.String({ maxLength: 1024, pattern: '^[^\\r\\n\\u0000]*$', description: 'The `authorization` header of the callbacks (never shown).', ...patternMeaning('must not contain CR, LF or NUL') }),
  ),
  offline: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
  apns_list: Type.Optional(Type.Array(ApnsItem, { maxItems: APNS_LIST_MAX_ITEMS, description: 'APNs configurations, merged by name.' })),
  inbox_platforms: Type.Optional(
    Type.Array(Type.Unsafe<Platform>({ type: 'string', enum: [...PLATFORMS] }), { minItems: 1, maxItems: PLATFORMS.length, uniqueItems: true }),
  ),
  max_client_rooms: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_CLIENT_ROOMS_LIMIT, description: 'Most rooms one client may be a member of (its user room not counted); unset: 1000.' }),
  ),
  /** Checked against the served protocols after the shape (PROTOCOL_UNKNOWN). */
  protocol: Type.Optional(Type.String({ maxLength: 32, description: 'The wire protocol of the namespace\'s clients (docs/architecture.md); today `push`.' })),
  /** Checked against the protocol's spec after the shape (PROTOCOL_SETTINGS_INVALID). */
  settings: Type.Optional(
    Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
      maxProperties: 64,
      description:
        'Settings of the namespace\'s protocol (docs/api.md "Protocol settings"), merged into the stored ones; `null` removes one. Changing `protocol` drops the settings of the old one. Secrets are never shown.',
    }),
  ),
};

/** Body of `POST /api/admin/namespace/save`: `key` first (seed order: `key is null`, `namespace invalid`), then the shape. */
const AdminSaveBody = Type.Object(
  { key: Type.String({ ...NamespaceName, description: 'The namespace, e.g. `/demo`.', ...onError({ error: 'NAMESPACE_INVALID', empty: 'KEY_IS_NULL' }) }), ...SettingFields },
  { additionalProperties: false, ...checkOrder({ order: ['key', '*'] }) },
);

/** Body of `POST /api/auth/namespace/save`: `key`, when given, must be the caller's namespace. */
export const OwnSaveBody = Type.Object(
  { key: Type.Optional(Type.String({ description: 'The caller\'s own namespace, if given.', ...onError({ error: 'NAMESPACE_KEY_MISMATCH' }) })), ...SettingFields },
  { additionalProperties: false, ...checkOrder({ order: ['key', '*'] }) },
);
export type SaveBody = Omit<Static<typeof AdminSaveBody>, 'key'>;

/** Literal loopback, link-local or metadata addresses in the callbacks, unless the operator allows them. */
function checkCallbackHosts(body: SaveBody, allowPrivate: boolean): void {
  if (allowPrivate) return;
  for (const field of ['connect_callback', 'disconnect_callback'] as const) {
    const url = body[field];
    if (url && isRefusedCallbackHost(new URL(url).hostname)) {
      throw new HeraldError(Errors.CALLBACK_URL_INVALID, `${field}: loopback, link-local and metadata addresses are refused`);
    }
  }
}

/**
 * The protocol settings part of a save: checked against the spec of the protocol the namespace will
 * have, hashed fields hashed. A save that changes the protocol drops the old protocol's settings.
 * @throws HeraldError PROTOCOL_SETTINGS_INVALID
 */
async function protocolSettingsChange(
  namespaces: NamespaceStore,
  key: string,
  body: SaveBody,
): Promise<{ protocolSettings?: Record<string, unknown>; resetProtocolSettings?: boolean }> {
  const stored = body.settings !== undefined || body.protocol !== undefined ? await namespaces.settings(key) : null;
  const before = stored?.protocol ?? DEFAULT_PROTOCOL;
  const after = (body.protocol as ProtocolName | undefined) ?? before;
  const reset = after !== before && stored !== null && Object.keys(stored.protocolSettings).length > 0;
  if (body.settings === undefined) return reset ? { resetProtocolSettings: true } : {};
  const problem = checkProtocolSettings(after, body.settings);
  if (problem !== undefined) throw new HeraldError(Errors.PROTOCOL_SETTINGS_INVALID, problem);
  const hashed = new Set(protocolSettingsSpec(after).hashed ?? []);
  const change: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body.settings)) change[field] = hashed.has(field) && typeof value === 'string' ? hashSecret(value) : value;
  return { protocolSettings: change, ...(reset && { resetProtocolSettings: true }) };
}

/** Stores a checked namespace save. `apns_list` is merged by name in the store. */
export async function saveNamespace(namespaces: NamespaceStore, key: string, body: SaveBody, clientIp: string, allowPrivate: boolean): Promise<void> {
  checkCallbackHosts(body, allowPrivate);
  if (body.protocol !== undefined && !isServedProtocol(body.protocol)) throw new HeraldError(Errors.PROTOCOL_UNKNOWN, JSON.stringify(body.protocol));
  const settings = await protocolSettingsChange(namespaces, key, body);
  try {
    await namespaces.save(key, {
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
      ...settings,
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
  /** Present when any is set: the protocol's settings, each secret as `<field>_set: true`. */
  settings?: Record<string, unknown>;
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
    ...(Object.keys(record.protocolSettings).length > 0 && {
      settings: publicProtocolSettings(record.protocol ?? DEFAULT_PROTOCOL, record.protocolSettings),
    }),
    update_date: record.updateDate,
    client_ip: record.clientIp ?? '',
  };
}

/** `:key` of the clean-up routes: URL-decoded by the router, with or without its leading `/` (the SPA sends both). */
const KeyParams = Type.Object({
  key: Type.String({
    pattern: `^(?:/${NAME_CHARS}{0,${NAME_LIMITS.namespace - 1}}|${NAME_CHARS}{1,${NAME_LIMITS.namespace - 1}})$`,
    description: 'The namespace, URL-encoded, with or without its `/`.',
    ...onError({ error: 'NAMESPACE_INVALID' }),
  }),
});

function namespaceParam(raw: string): string {
  return raw.startsWith('/') ? raw : `/${raw}`;
}

/** `{namespace}` body of the clean-up routes: the namespace first, then the shape. */
const NamespaceBody = Type.Object(
  { namespace: Type.String({ ...NamespaceName, ...onError({ error: 'NAMESPACE_INVALID', empty: 'NAMESPACE_EMPTY' }) }) },
  { additionalProperties: false, ...checkOrder({ order: ['namespace', '*'] }) },
);

const PublicApns = Type.Object(
  {
    name: Type.String(),
    apns_env: Type.Optional(Type.String()),
    apns_expiration: Type.Optional(Type.Integer()),
    apns_topic: Type.Optional(Type.String()),
    ...Object.fromEntries(APNS_SECRET_FIELDS.map((field) => [field, Type.Optional(Type.Literal(true, { description: 'Set (the secret itself is never shown).' }))])),
    token_keyId: Type.Optional(Type.String()),
    token_teamId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** A namespace as the API shows it (publicNamespace): secrets replaced by `true` when set. */
export const PublicNamespaceSchema = Type.Object(
  {
    key: Type.String(),
    name: Type.String(),
    offline: Type.Union([Type.Literal('on'), Type.Literal('off')]),
    connect_callback: Type.String(),
    disconnect_callback: Type.String(),
    auth_passwd: Type.Optional(Type.Literal(true)),
    callback_auth: Type.Optional(Type.Literal(true)),
    apns_list: Type.Array(PublicApns),
    inbox_platforms: Type.Optional(Type.Array(Type.String())),
    update_date: Type.Integer(),
    client_ip: Type.String(),
  },
  { additionalProperties: true },
);

const ListEntry = Type.Composite(
  [PublicNamespaceSchema, Type.Object({ roomCount: Type.Optional(Type.Integer()), userCount: Type.Optional(Type.Integer()), clientCount: Type.Optional(Type.Integer()) })],
  { additionalProperties: true },
);

const ListQuery = Type.Object(
  {
    page: IntegerParam('page', 1, 1_000_000, 1, 'Page, from 1.'),
    pageSize: IntegerParam('pageSize', 1, 100, 20, 'Namespaces per page.'),
    key: TextParam('key', 100, 'Substring of the key.'),
    name: TextParam('name', 100, 'Substring of the name.'),
    offline: Type.Optional(
      Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('all')], { default: 'all', ...onError({ detail: 'offline must be on, off or all' }) }),
    ),
    online: FlagParam('online', 'Add roomCount, userCount and clientCount.'),
  },
  { additionalProperties: false },
);

const Deleted = Type.Object({ deletedKeys: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
const admin = { tags: ['namespaces'], security: [{ admin: [] }] };

/**
 * The operators' namespace routes (seed 002 routes 11–16): save, list, and the clean-ups. Every
 * clean-up requires the namespace to be `offline: on` first, so that no client or push changes its
 * data meanwhile.
 */
export function adminNamespaceRoutes({ app: plain, namespaces, online, redis, keys, legacyClientHours, allowPrivateCallbacks }: AdminNamespaceRouteContext): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
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

  app.post(
    '/api/admin/namespace/save',
    { schema: { ...admin, summary: 'Create or change a namespace', body: AdminSaveBody, response: answers(Empty, { body: true }) } },
    async (request) => {
      const { key, ...settings } = request.body;
      await saveNamespace(namespaces, key, settings, request.ip, allowPrivateCallbacks);
      return {};
    },
  );

  app.post('/api/admin/login', { schema: { ...admin, summary: 'Check the operator credentials', response: answers(Empty) } }, async () => ({}));

  app.get(
    '/api/admin/namespace/list',
    { schema: { ...admin, summary: 'List the namespaces', querystring: ListQuery, response: answers(Type.Object({ list: Type.Array(ListEntry), total: Type.Integer() })) } },
    async (request) => {
      const { page = 1, pageSize = 20, key, name, offline = 'all', online: withOnline = false } = request.query;
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
    },
  );

  const byKey = { params: KeyParams, response: answers(Deleted) };
  app.get(
    '/api/admin/namespace/clear/:key',
    { schema: { ...admin, ...byKey, summary: 'Delete the data of an offline namespace, keep its settings', querystring: NoQuery } },
    async (request) => clear(namespaceParam(request.params.key)),
  );

  app.get(
    '/api/admin/namespace/flush/:key',
    { schema: { ...admin, ...byKey, summary: 'Delete an offline namespace and its data', querystring: NoQuery } },
    async (request) => flush(namespaceParam(request.params.key)),
  );

  // The seed's first form, which the README documents (its `'true' === true` never flushed).
  app.get(
    '/api/admin/namespace/del/:key',
    {
      schema: {
        ...admin,
        ...byKey,
        summary: 'clear, or flush with flushAll=true',
        querystring: Type.Object({ flushAll: FlagParam('flushAll', 'Flush instead of clear.') }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const nsp = namespaceParam(request.params.key);
      return request.query.flushAll ? flush(nsp) : clear(nsp);
    },
  );

  app.post(
    '/api/admin/namespace/clear-realtime-data',
    {
      schema: {
        ...admin,
        summary: 'Take every client of an offline namespace offline',
        body: NamespaceBody,
        response: answers(Type.Object({ clientCount: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }), { body: true }),
      },
    },
    async (request) => {
      const nsp = request.body.namespace;
      await offlineNamespace(nsp);
      return { clientCount: await cleanup.clearRealtimeData(nsp) };
    },
  );

  app.post(
    '/api/admin/clear-legacy-client',
    {
      schema: {
        ...admin,
        summary: 'Remove the clients of an offline namespace not seen for HERALD_LEGACY_CLIENT_HOURS',
        body: NamespaceBody,
        response: answers(Type.Array(Type.String(), { description: 'The removed clientIds, oldest first.' }), { body: true }),
      },
    },
    async (request) => {
      const nsp = request.body.namespace;
      await offlineNamespace(nsp);
      return cleanup.clearLegacyClients(nsp, Date.now() - legacyClientHours * 3_600_000);
    },
  );
}
