import { isIP } from 'node:net';
import { ConfigError } from './config-error';
import { parseRedisTarget, type RedisTarget } from './redis-target';

/** The three service roles of DESIGN.md. */
export type Role = 'connector' | 'logic' | 'worker';

/**
 * One environment variable: its name, the roles that read it, its default and its documentation, in
 * one place (docs/config.md is generated from this table; see scripts/gen-config-doc.mjs).
 */
export interface Variable<T> {
  readonly env: string;
  readonly roles: readonly Role[];
  readonly doc: string;
  /** `undefined` means required. */
  readonly default: T | undefined;
  /** Roles for which a required variable may be unset (then the field is `undefined`). */
  readonly optionalFor?: readonly Role[];
  /** How the default reads in docs/config.md. */
  readonly defaultText: string;
  /** Turns the raw text into a value; throws a reason string when the text is wrong. */
  readonly parse: (raw: string) => T;
}

const ALL: readonly Role[] = ['connector', 'logic', 'worker'];

function fail(reason: string): never {
  throw reason;
}

function integer(min: number, max: number) {
  return (raw: string): number => {
    if (!/^-?\d+$/.test(raw.trim())) fail(`must be an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) fail(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

function oneOf<T extends string>(...values: T[]) {
  return (raw: string): T => {
    if (!(values as string[]).includes(raw)) fail(`must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  };
}

function boolean(raw: string): boolean {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  return fail(`must be true or false, got "${raw}"`);
}

const port = integer(0, 65535);

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** One socket.io path of a connector (HERALD_SOCKET_PATHS). */
export interface SocketPath {
  /** The URL path of the socket.io endpoint, e.g. `/socket.io`. */
  readonly path: string;
  /** Clients connecting to the root namespace `/` on this path go to this namespace instead. */
  readonly namespace?: string;
}

function parseSocketPaths(raw: string): readonly SocketPath[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) fail('must list at least one path');
  const seen = new Set<string>();
  const out: SocketPath[] = [];
  for (const item of items) {
    const [path, namespace, extra] = item.split('=').map((s) => s.trim()) as [string, string | undefined, string | undefined];
    // A path is a URL path without query, fragment or trailing slash; a namespace follows names.ts.
    if (!/^\/[A-Za-z0-9._~\-]+(\/[A-Za-z0-9._~\-]+)*$/.test(path)) fail(`"${path}" is not a path like /socket.io`);
    if (extra !== undefined || (namespace !== undefined && !/^\/[\w.\-$#/\\]{1,49}$/.test(namespace))) {
      fail(`"${item}" must be PATH or PATH=/NAMESPACE`);
    }
    if (seen.has(path)) fail(`"${path}" is listed twice`);
    seen.add(path);
    out.push(Object.freeze(namespace === undefined ? { path } : { path, namespace }));
  }
  return Object.freeze(out);
}

/** Every variable Herald reads. Keys are the config field names the services use. */
/**
 * The protocol names HERALD_PROTOCOLS accepts: `PROTOCOL_NAMES` of `@herald/wire`, which this
 * library does not depend on (services/connector/test/seam.test.ts checks the two agree).
 */
export const KNOWN_PROTOCOLS: readonly string[] = Object.freeze(['push', 'webservice', 'sessions', 'roomsync', 'chat']);

export const VARIABLES = {
  redis: {
    env: 'HERALD_REDIS_URL',
    roles: ALL,
    doc: '`redis://[:password@]host:port[/db]` (or `rediss://`); a comma-separated list of `host:port` means Redis Cluster (Redis >= 7, docs/redis-cluster.md). `npm start` sets it to the private redis-server it runs under `.herald/` when unset.',
    default: { kind: 'single', url: 'redis://127.0.0.1:6379' } as RedisTarget,
    defaultText: '`redis://127.0.0.1:6379` (`npm start`: its private redis-server)',
    parse: (raw: string): RedisTarget => {
      const target = parseRedisTarget(raw);
      return typeof target === 'string' ? fail(target) : target;
    },
  },
  redisPrefix: {
    env: 'HERALD_REDIS_PREFIX',
    roles: ALL,
    doc: 'Prefix of every Redis key, pub/sub channel and BullMQ queue Herald uses, so that several deployments (or test runs) can share one Redis. Letters, digits, `_`, `-`, `.`, ending in `:`.',
    default: 'h:',
    defaultText: '`h:`',
    parse: (raw: string) => (/^[A-Za-z0-9_.\-]{1,32}:$/.test(raw) ? raw : fail(`must match [A-Za-z0-9_.-]{1,32} followed by ":", got "${raw}"`)),
  },
  bind: {
    env: 'HERALD_BIND',
    roles: ALL,
    doc: "Address the HTTP and socket.io servers listen on (the worker's `/health` and `/metrics` listener too).",
    default: '127.0.0.1',
    defaultText: '`127.0.0.1`',
    parse: (raw: string) => (/^[0-9A-Za-z.:\-]+$/.test(raw) ? raw : fail(`is not an address, got "${raw}"`)),
  },
  logLevel: {
    env: 'HERALD_LOG_LEVEL',
    roles: ALL,
    doc: 'pino log level.',
    default: 'info' as LogLevel,
    defaultText: '`info`',
    parse: oneOf<LogLevel>('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  },
  connectorPort: {
    env: 'HERALD_CONNECTOR_PORT',
    roles: ['connector'],
    doc: 'socket.io (and `/health`) port of a connector. `0` picks a free port (logged on start).',
    default: 21314,
    defaultText: '`21314`',
    parse: port,
  },
  logicPort: {
    env: 'HERALD_LOGIC_PORT',
    roles: ['logic'],
    doc: 'REST port of logic. `0` picks a free port (logged on start).',
    default: 10002,
    defaultText: '`10002`',
    parse: port,
  },
  adminName: {
    env: 'HERALD_ADMIN_NAME',
    roles: ALL,
    doc: 'User name of the `/api/admin/*` Basic credentials.',
    default: 'admin',
    defaultText: '`admin`',
    parse: (raw: string) => (/^[^:\s]{1,64}$/.test(raw) ? raw : fail('must be 1–64 characters without ":" or spaces')),
  },
  adminPassword: {
    env: 'HERALD_ADMIN_PASSWORD',
    roles: ALL,
    doc: 'Password of the `/api/admin/*` Basic credentials. Required by logic, and by every role when `HERALD_METRICS_AUTH=admin`; `npm start` generates one into `.herald/admin-password` when unset and prints it.',
    default: undefined,
    optionalFor: ['connector', 'worker'],
    defaultText: 'required by logic (`npm start` generates one)',
    parse: (raw: string) => (raw.length >= 8 && raw.length <= 256 ? raw : fail('must be 8 to 256 characters long')),
  },
  offlineDelayMs: {
    env: 'HERALD_OFFLINE_DELAY_MS',
    roles: ['connector', 'logic'],
    doc: 'How long after a push with `leaveMessage` the offline step waits for acks before it stores the message for clients that did not ack.',
    default: 5000,
    defaultText: '`5000`',
    parse: integer(0, 3_600_000),
  },
  redisCommandTimeoutMs: {
    env: 'HERALD_REDIS_COMMAND_TIMEOUT_MS',
    roles: ['connector', 'logic'],
    doc: "How long logic, and a connector storing a client's push (the socket `push` event, chat messages), wait for Redis to answer one command before they answer 503 (`STORE_UNAVAILABLE`). A command in flight when that connection to Redis drops is failed, never sent again: a push whose answer was lost is stored once, not twice; a REST retry with the same `Idempotency-Key` gets its answer (docs/reliability.md).",
    default: 10000,
    defaultText: '`10000`',
    parse: integer(100, 600_000),
  },
  duplicateClient: {
    env: 'HERALD_DUPLICATE_CLIENT',
    roles: ['connector'],
    doc: 'A second connection with the same clientId: `kick` disconnects the old one (on whatever connector), `reject` refuses the new one with `socket.id conflict`.',
    default: 'kick' as 'kick' | 'reject',
    defaultText: '`kick`',
    parse: oneOf('kick', 'reject'),
  },
  callbackTimeoutMs: {
    env: 'HERALD_CALLBACK_TIMEOUT_MS',
    roles: ['connector'],
    doc: "How long a namespace's connect callback may take before the handshake fails.",
    default: 5000,
    defaultText: '`5000`',
    parse: integer(1, 120_000),
  },
  namespaceOfflineDelayMs: {
    env: 'HERALD_NAMESPACE_OFFLINE_DELAY_MS',
    roles: ['connector'],
    doc: 'Upper bound of the random delay before a namespace switched offline drops its sockets. Unset: the seed rule `min(5000 + 100 × connected sockets, 300000)`.',
    default: null as number | null,
    defaultText: 'the seed rule',
    parse: integer(0, 3_600_000),
  },
  clientPushIntervalMs: {
    env: 'HERALD_CLIENT_PUSH_INTERVAL_MS',
    roles: ['connector'],
    doc: 'Minimum interval between two client-originated pushes of one socket.',
    default: 1000,
    defaultText: '`1000`',
    parse: integer(0, 3_600_000),
  },
  trustedProxies: {
    env: 'HERALD_TRUSTED_PROXIES',
    roles: ['logic'],
    doc: 'Comma-separated addresses or CIDR ranges of the proxies in front of logic (nginx, a load balancer) whose `X-Forwarded-For` names the real client. The client address keys the failed-authentication rate limit, so behind a balancer on another host list its address, or every client shares one limit. Never list ranges that clients themselves connect from: they could then choose their address.',
    default: Object.freeze(['127.0.0.1', '::1']) as readonly string[],
    defaultText: '`127.0.0.1,::1` (an nginx on the same host)',
    parse: (raw: string): readonly string[] => {
      const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.length === 0) fail('must list at least one address or CIDR range');
      for (const entry of list) {
        const [address, prefix, ...rest] = entry.split('/');
        const family = isIP(address ?? '');
        const bits = family === 4 ? 32 : 128;
        const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
        if (family === 0 || rest.length > 0 || !prefixOk) fail(`"${entry}" is not an IP address or CIDR range like 10.0.0.0/8`);
      }
      return Object.freeze(list);
    },
  },
  allowedOrigins: {
    env: 'HERALD_ALLOWED_ORIGINS',
    roles: ['connector'],
    doc: 'Comma-separated Origin allow-list for socket handshakes. Unset allows every origin, which lets any web page open sockets as your users: set it in production when browsers connect.',
    default: null as readonly string[] | null,
    defaultText: 'unset (any origin)',
    parse: (raw: string): readonly string[] => {
      const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.length === 0) fail('must list at least one origin');
      for (const origin of list) {
        if (!/^https?:\/\/[^/\s]+$/.test(origin)) fail(`"${origin}" is not an origin like https://app.example.com`);
      }
      return Object.freeze(list);
    },
  },
  roomActivityBroadcast: {
    env: 'HERALD_ROOM_ACTIVITY_BROADCAST',
    roles: ['connector'],
    doc: 'Allow `peopleJoin` / `peopleLeave` presence events (seed `room_activity_broadcast`); a client still has to ask for them with `activityBroadcast=true`.',
    default: true,
    defaultText: '`true`',
    parse: boolean,
  },
  heartbeatMs: {
    env: 'HERALD_CONNECTOR_HEARTBEAT_MS',
    roles: ['connector'],
    doc: 'How often a connector tells Redis it is alive. A connector silent for three intervals is dead: another connector marks its clients offline.',
    default: 5000,
    defaultText: '`5000`',
    parse: integer(100, 600_000),
  },
  allowEio3: {
    env: 'HERALD_ALLOW_EIO3',
    roles: ['connector'],
    doc: 'Accept socket.io v2 clients (Engine.IO protocol 3) beside v4 clients, for apps built for the seed systems.',
    default: true,
    defaultText: '`true`',
    parse: boolean,
  },
  maxPayloadBytes: {
    env: 'HERALD_MAX_PAYLOAD_BYTES',
    roles: ['connector'],
    doc: 'Largest socket.io message a client may send (`maxHttpBufferSize`).',
    default: 65536,
    defaultText: '`65536`',
    parse: integer(1024, 16 * 1024 * 1024),
  },
  legacyClientHours: {
    env: 'HERALD_LEGACY_CLIENT_HOURS',
    roles: ['logic'],
    doc: 'A client not seen for this many hours is "legacy" for `POST /api/admin/clear-legacy-client`.',
    default: 240,
    defaultText: '`240`',
    parse: integer(1, 24 * 365 * 10),
  },
  apnsConcurrency: {
    env: 'HERALD_APNS_CONCURRENCY',
    roles: ['worker'],
    doc: 'APNs batch jobs (of up to 100 devices each) one worker process sends at once.',
    default: 16,
    defaultText: '`16`',
    parse: integer(1, 1000),
  },
  jobLockMs: {
    env: 'HERALD_JOB_LOCK_MS',
    roles: ['worker'],
    doc: "How long a worker's claim on a job lasts without renewal (BullMQ `lockDuration`; also its stalled-job check interval). A job of a worker that died is taken over after about this long.",
    default: 30000,
    defaultText: '`30000`',
    parse: integer(1000, 600_000),
  },
  apnsHost: {
    env: 'HERALD_APNS_HOST',
    roles: ['worker'],
    doc: "Send every APNs request to this host instead of Apple's (`api.push.apple.com` / `api.sandbox.push.apple.com`): a staging endpoint or a mock.",
    default: null as string | null,
    defaultText: "Apple's hosts",
    parse: (raw: string) => (/^[0-9A-Za-z.\-:]+$/.test(raw) ? raw : fail(`is not a host name, got "${raw}"`)),
  },
  apnsPort: {
    env: 'HERALD_APNS_PORT',
    roles: ['worker'],
    doc: 'Port of the APNs endpoint.',
    default: 443,
    defaultText: '`443`',
    parse: integer(1, 65535),
  },
  apnsDefaultAlert: {
    env: 'HERALD_APNS_DEFAULT_ALERT',
    roles: ['worker'],
    doc: "`aps.alert` of a notification whose `pushData.apsData` sets none (seed `apns_aps_alert`).",
    default: '通知',
    defaultText: '`通知`',
    parse: (raw: string) => (raw.length <= 256 ? raw : fail('must be at most 256 characters')),
  },
  apnsCa: {
    env: 'HERALD_APNS_CA',
    roles: ['worker'],
    doc: 'PEM file of the CA that signs the APNs endpoint (for a mock or a TLS-inspecting proxy).',
    default: null as string | null,
    defaultText: 'system CAs',
    parse: (raw: string) => (raw.length > 0 ? raw : fail('must be a file path')),
  },
  idempotencyTtlS: {
    env: 'HERALD_IDEMPOTENCY_TTL_S',
    roles: ['logic'],
    doc: 'How long an `Idempotency-Key` of `POST /api/auth/push` (and `/push/batch`) is remembered, in seconds: a retry with the same key within this time gets the first answer and pushes nothing again.',
    default: 86_400,
    defaultText: '`86400` (24 h)',
    parse: integer(60, 7 * 86_400),
  },
  pushBatchMax: {
    env: 'HERALD_PUSH_BATCH_MAX',
    roles: ['logic'],
    doc: 'Most pushes accepted in one `POST /api/auth/push/batch` request.',
    default: 100,
    defaultText: '`100`',
    parse: integer(1, 1000),
  },
  metrics: {
    env: 'HERALD_METRICS',
    roles: ALL,
    doc: 'Prometheus metrics (docs/metrics.md): `on` counts and serves `/metrics`; `off` counts nothing and answers `/metrics` with 404 (to measure what metrics cost).',
    default: 'on' as 'on' | 'off',
    defaultText: '`on`',
    parse: oneOf('on', 'off'),
  },
  metricsAuth: {
    env: 'HERALD_METRICS_AUTH',
    roles: ALL,
    doc: '`/metrics` protection: `none` answers anyone who reaches the port (keep the ports private: HERALD_BIND, a firewall; the nginx of deploy/ never forwards `/metrics`); `admin` asks for Basic auth with HERALD_ADMIN_NAME / HERALD_ADMIN_PASSWORD, which every role then needs.',
    default: 'none' as 'none' | 'admin',
    defaultText: '`none`',
    parse: oneOf('none', 'admin'),
  },
  metricsNamespaceLabels: {
    env: 'HERALD_METRICS_NAMESPACE_LABELS',
    roles: ALL,
    doc: 'How many namespaces one process labels by name in its per-namespace series; the ones seen after that count under `namespace="other"`, so a flood of namespaces cannot blow up the series. `0` labels none.',
    default: 100,
    defaultText: '`100`',
    parse: integer(0, 10_000),
  },
  workerPort: {
    env: 'HERALD_WORKER_PORT',
    roles: ['worker'],
    doc: "The worker's HTTP port: `/health` (answers `hello`) and `/metrics`. `0` picks a free port (logged on start). Several workers on one host need one port each (ecosystem.config.js gives consecutive ports).",
    default: 10003,
    defaultText: '`10003`',
    parse: port,
  },
  logicMetricsPort: {
    env: 'HERALD_LOGIC_METRICS_PORT',
    roles: ['logic'],
    doc: "A port of logic's own that serves `/metrics` and `/health` only. Logic's REST port already serves `/metrics`, but in pm2 cluster mode its processes share that port and a scrape reaches any one of them: each process needs a port of its own (ecosystem.config.js production gives consecutive ports from 10010). Unset: no extra listener; `0`: a free port.",
    default: null as number | null,
    defaultText: 'unset',
    parse: port,
  },
  reportMaxPending: {
    env: 'HERALD_REPORT_MAX_PENDING',
    roles: ['connector'],
    doc: 'Report updates (acks, online counts) a connector keeps while Redis takes them slower than clients send them (about 100 bytes each). Above it the connector stops reading its sockets until the backlog is below 80 % of it; no update is ever dropped (docs/reliability.md, "Above capacity").',
    default: 500_000,
    defaultText: '`500000`',
    parse: integer(100, 100_000_000),
  },
  pingIntervalMs: {
    env: 'HERALD_PING_INTERVAL_MS',
    roles: ['connector'],
    doc: "How often a connector pings each socket.io v4 client (Engine.IO's `pingInterval`, also told to v2 clients, which ping the connector at that interval). A client that does not answer within `HERALD_PING_TIMEOUT_MS` is disconnected; while the connector has stopped reading its sockets (report backlog at its bound), it does not count their silence (docs/reliability.md, \"Above capacity\").",
    default: 25_000,
    defaultText: '`25000`',
    parse: integer(100, 600_000),
  },
  pingTimeoutMs: {
    env: 'HERALD_PING_TIMEOUT_MS',
    roles: ['connector'],
    doc: "How long a connector waits for a client's pong (v4) or next ping (v2, after `HERALD_PING_INTERVAL_MS`) before it closes the socket with `ping timeout` (Engine.IO's `pingTimeout`).",
    default: 20_000,
    defaultText: '`20000`',
    parse: integer(100, 600_000),
  },
  timelineMaxEntries: {
    env: 'HERALD_TIMELINE_MAX_ENTRIES',
    roles: ['connector', 'worker'],
    doc: "Most entries of one message's delivery timeline (deliveries per connector, acks, offline step, APNs outcomes; `{nsp}:t:<id>` in docs/data-model.md); later ones are only counted (`dropped`), the report's counters stay exact. `0` writes no timeline.",
    default: 200,
    defaultText: '`200`',
    parse: integer(0, 100_000),
  },
  socketPaths: {
    env: 'HERALD_SOCKET_PATHS',
    roles: ['connector'],
    doc: 'socket.io paths a connector serves, comma-separated; `PATH=/NAMESPACE` sends root-namespace clients on that path to that namespace (seed clients of 000, 003, 004 connect to `/` on `/socket`, `/wechat` or `/socket.io`). nginx proxies each (scripts/nginx-conf.mjs).',
    default: Object.freeze([Object.freeze({ path: '/socket.io' })]) as readonly SocketPath[],
    defaultText: '`/socket.io`',
    parse: parseSocketPaths,
  },
  callbackAllowPrivate: {
    env: 'HERALD_CALLBACK_ALLOW_PRIVATE',
    roles: ALL,
    doc: 'Allow tenant callbacks and webhooks to loopback, link-local and metadata addresses (127.0.0.0/8, ::1, 169.254.0.0/16 with 169.254.169.254, fe80::/10, 0.0.0.0, and their IPv4-mapped forms). Refused by default, at save for a literal address and at call time after DNS resolution. Private networks (RFC 1918, fc00::/7) are always allowed.',
    default: false,
    defaultText: '`false`',
    parse: boolean,
  },
  protocols: {
    env: 'HERALD_PROTOCOLS',
    roles: ['connector'],
    doc: 'The wire protocols this connector serves, comma-separated, among `push`, `webservice`, `sessions`, `roomsync`, `chat` (docs/architecture.md). Unset: all of them. A handshake to a namespace of another protocol is refused with `HS_PROTOCOL_UNSUPPORTED`, so an operator can dedicate connectors to protocols (e.g. one pool per socket path behind nginx).',
    default: null as readonly string[] | null,
    defaultText: 'unset (every protocol)',
    parse: (raw: string): readonly string[] => {
      const list = [...new Set(raw.split(',').map((s) => s.trim()).filter(Boolean))];
      if (list.length === 0) fail('must list at least one protocol');
      for (const name of list) if (!KNOWN_PROTOCOLS.includes(name)) fail(`"${name}" is not a protocol (${KNOWN_PROTOCOLS.join(', ')})`);
      return Object.freeze(list);
    },
  },
} as const satisfies Record<string, Variable<unknown>>;

export type VariableName = keyof typeof VARIABLES;
type ValueOf<K extends VariableName> = (typeof VARIABLES)[K] extends Variable<infer T> ? T : never;

/** Variables each role reads (derived from the table, so docs and checks cannot drift). */
type OptionalRoles<K extends VariableName> = (typeof VARIABLES)[K] extends { readonly optionalFor: readonly (infer O)[] } ? O : never;
type RoleVars<R extends Role> = {
  [K in VariableName as R extends (typeof VARIABLES)[K]['roles'][number] ? K : never]: R extends OptionalRoles<K> ? ValueOf<K> | undefined : ValueOf<K>;
};

export type ConnectorConfig = Readonly<RoleVars<'connector'>>;
export type LogicConfig = Readonly<RoleVars<'logic'>>;
export type WorkerConfig = Readonly<RoleVars<'worker'>>;
export interface ConfigByRole {
  connector: ConnectorConfig;
  logic: LogicConfig;
  worker: WorkerConfig;
}

/**
 * Reads the configuration of one role from `env`, validates every value and returns it frozen.
 * Throws a `ConfigError` naming the first wrong variable; `main` prints it and exits 1.
 */
export function loadConfig<R extends Role>(role: R, env: NodeJS.ProcessEnv): ConfigByRole[R] {
  const out: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(VARIABLES) as [VariableName, Variable<unknown>][]) {
    if (!variable.roles.includes(role)) continue;
    const raw = env[variable.env];
    if (raw === undefined || raw === '') {
      if (variable.default === undefined && variable.optionalFor?.includes(role)) continue;
      if (variable.default === undefined) throw new ConfigError(variable.env, 'is required');
      out[key] = variable.default;
      continue;
    }
    try {
      out[key] = variable.parse(raw);
    } catch (reason) {
      if (typeof reason !== 'string') throw reason;
      throw new ConfigError(variable.env, reason);
    }
  }
  // Metrics behind the admin credentials need them on every role, not only on logic.
  if (out['metricsAuth'] === 'admin' && out['adminPassword'] === undefined) {
    throw new ConfigError(VARIABLES.adminPassword.env, 'is required when HERALD_METRICS_AUTH=admin');
  }
  return Object.freeze(out) as unknown as ConfigByRole[R];
}

