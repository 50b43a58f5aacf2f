import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, VARIABLES, loadConfig, parseRedisTarget, renderConfigDoc } from '../src';

const ADMIN = { HERALD_ADMIN_PASSWORD: 'long-enough' };

function refusal(role: 'connector' | 'logic' | 'worker', env: Record<string, string>): string {
  try {
    loadConfig(role, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('configuration was accepted');
}

describe('loadConfig', () => {
  test('defaults of DESIGN.md when nothing is set', () => {
    const connector = loadConfig('connector', {});
    expect(connector).toMatchObject({
      bind: '127.0.0.1',
      connectorPort: 21314,
      duplicateClient: 'kick',
      callbackTimeoutMs: 5000,
      clientPushIntervalMs: 1000,
      allowedOrigins: null,
      namespaceOfflineDelayMs: null,
      roomActivityBroadcast: true,
      allowEio3: true,
      maxPayloadBytes: 65536,
      logLevel: 'info',
      // The table's default (a local server); tests never connect to it, they start their own.
      redis: VARIABLES.redis.default,
    });
    const logic = loadConfig('logic', ADMIN);
    expect(logic).toMatchObject({ logicPort: 10002, adminName: 'admin', offlineDelayMs: 5000, legacyClientHours: 240, trustedProxies: ['127.0.0.1', '::1'] });
    expect(loadConfig('logic', { ...ADMIN, HERALD_TRUSTED_PROXIES: ' 10.0.0.0/8, 192.168.1.7,fd00::/8 ' }).trustedProxies).toEqual(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
  });

  test('the result is frozen and holds only the role’s variables', () => {
    const config = loadConfig('worker', {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(config).not.toHaveProperty('connectorPort');
    expect(config).toHaveProperty('apnsPort', 443);
  });

  test.each([
    ['connector', { HERALD_CONNECTOR_PORT: '70000' }, 'HERALD_CONNECTOR_PORT: must be between 0 and 65535, got 70000'],
    ['connector', { HERALD_CONNECTOR_PORT: 'abc' }, 'HERALD_CONNECTOR_PORT: must be an integer, got "abc"'],
    ['connector', { HERALD_DUPLICATE_CLIENT: 'both' }, 'HERALD_DUPLICATE_CLIENT: must be one of kick, reject, got "both"'],
    ['connector', { HERALD_ALLOWED_ORIGINS: 'example.com' }, 'HERALD_ALLOWED_ORIGINS: "example.com" is not an origin like https://app.example.com'],
    ['connector', { HERALD_ALLOW_EIO3: 'yes' }, 'HERALD_ALLOW_EIO3: must be true or false, got "yes"'],
    ['worker', { HERALD_LOG_LEVEL: 'loud' }, 'HERALD_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    ['worker', { HERALD_REDIS_URL: 'http://x:1' }, 'HERALD_REDIS_URL: unsupported scheme "http:"'],
    ['worker', { HERALD_REDIS_URL: 'a:1,b' }, 'HERALD_REDIS_URL: cluster node "b" is not host:port'],
    ['logic', {}, 'HERALD_ADMIN_PASSWORD: is required'],
    ['logic', { HERALD_ADMIN_PASSWORD: 'short' }, 'HERALD_ADMIN_PASSWORD: must be 8 to 256 characters long'],
    ['logic', { ...ADMIN, HERALD_OFFLINE_DELAY_MS: '-1' }, 'HERALD_OFFLINE_DELAY_MS: must be between 0 and 3600000, got -1'],
    ['logic', { ...ADMIN, HERALD_TRUSTED_PROXIES: 'nginx.local' }, 'HERALD_TRUSTED_PROXIES: "nginx.local" is not an IP address or CIDR range like 10.0.0.0/8'],
    ['logic', { ...ADMIN, HERALD_TRUSTED_PROXIES: '10.0.0.0/33' }, 'HERALD_TRUSTED_PROXIES: "10.0.0.0/33" is not an IP address or CIDR range like 10.0.0.0/8'],
    ['logic', { ...ADMIN, HERALD_TRUSTED_PROXIES: ' , ' }, 'HERALD_TRUSTED_PROXIES: must list at least one address or CIDR range'],
  ] as const)('%s refuses %j', (role, env, message) => {
    expect(refusal(role, env)).toBe(message);
  });

  test('a wrong value never echoes the admin password', () => {
    expect(refusal('logic', { HERALD_ADMIN_PASSWORD: 'short' })).not.toContain('short"');
  });
});

describe('parseRedisTarget', () => {
  test('one server or a cluster', () => {
    expect(parseRedisTarget('redis://:pw@10.0.0.1:6380/2')).toEqual({ kind: 'single', url: 'redis://:pw@10.0.0.1:6380/2' });
    expect(parseRedisTarget('h1:7000,h2:7001')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7000 },
        { host: 'h2', port: 7001 },
      ],
    });
    expect(parseRedisTarget('redis://host:1/db')).toBe('invalid database "db"');
  });
});

describe('metrics settings', () => {
  test('defaults: on, no auth, 100 namespace labels, the worker on 10003, no logic metrics port; the admin password optional outside logic', () => {
    const worker = loadConfig('worker', {});
    expect(worker).toMatchObject({ metrics: 'on', metricsAuth: 'none', metricsNamespaceLabels: 100, workerPort: 10003, bind: '127.0.0.1', adminName: 'admin' });
    expect(worker.adminPassword).toBeUndefined();
    expect(loadConfig('logic', ADMIN)).toMatchObject({ logicMetricsPort: null, adminPassword: 'long-enough' });
    expect(refusal('logic', {})).toBe('HERALD_ADMIN_PASSWORD: is required');
  });

  test('HERALD_METRICS_AUTH=admin needs the admin password on every role', () => {
    for (const role of ['connector', 'worker'] as const) {
      expect(refusal(role, { HERALD_METRICS_AUTH: 'admin' })).toBe('HERALD_ADMIN_PASSWORD: is required when HERALD_METRICS_AUTH=admin');
      expect(loadConfig(role, { HERALD_METRICS_AUTH: 'admin', ...ADMIN })).toMatchObject({ metricsAuth: 'admin', adminPassword: 'long-enough' });
    }
  });

  test.each([
    ['worker', { HERALD_METRICS: 'yes' }, 'HERALD_METRICS: must be one of on, off, got "yes"'],
    ['logic', { ...ADMIN, HERALD_METRICS_AUTH: 'basic' }, 'HERALD_METRICS_AUTH: must be one of none, admin, got "basic"'],
    ['connector', { HERALD_METRICS_NAMESPACE_LABELS: '-1' }, 'HERALD_METRICS_NAMESPACE_LABELS: must be between 0 and 10000, got -1'],
    ['worker', { HERALD_WORKER_PORT: '70000' }, 'HERALD_WORKER_PORT: must be between 0 and 65535, got 70000'],
    ['logic', { ...ADMIN, HERALD_LOGIC_METRICS_PORT: 'x' }, 'HERALD_LOGIC_METRICS_PORT: must be an integer, got "x"'],
  ] as const)('%s %j is refused: %s', (role, env, message) => {
    expect(refusal(role, env)).toBe(message);
  });
});

test('docs/config.md is generated from the variable table (npm run docs:config)', () => {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'config.md'), 'utf8');
  expect(doc).toBe(renderConfigDoc());
});

describe('HERALD_SOCKET_PATHS', () => {
  test('default /socket.io; a list of paths, some mapped to a namespace', () => {
    expect(loadConfig('connector', {}).socketPaths).toEqual([{ path: '/socket.io' }]);
    expect(loadConfig('connector', { HERALD_SOCKET_PATHS: '/socket.io, /socket=/demo,/wechat=/wx#1' }).socketPaths).toEqual([
      { path: '/socket.io' },
      { path: '/socket', namespace: '/demo' },
      { path: '/wechat', namespace: '/wx#1' },
    ]);
  });

  test.each([
    ['socket', '"socket" is not a path like /socket.io'],
    ['/a/', '"/a/" is not a path like /socket.io'],
    ['/a?b', '"/a?b" is not a path like /socket.io'],
    ['/a=demo', '"/a=demo" must be PATH or PATH=/NAMESPACE'],
    ['/a=/d=/e', '"/a=/d=/e" must be PATH or PATH=/NAMESPACE'],
    ['/a=/d e', '"/a=/d e" must be PATH or PATH=/NAMESPACE'],
    ['/a,/b,/a=/x', '"/a" is listed twice'],
    [',', 'must list at least one path'],
  ])('%j is refused', (raw, reason) => {
    expect(refusal('connector', { HERALD_SOCKET_PATHS: raw })).toBe(`HERALD_SOCKET_PATHS: ${reason}`);
  });
});
