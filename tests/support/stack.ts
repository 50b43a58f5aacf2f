import { startRedis, startRedisCluster, startService, type ServiceProcess, type TestRedis, type TestRedisCluster } from '@herald/test-support';
import { basic } from './clients';

export const ADMIN_PASSWORD = 'test-admin-password';
export const ADMIN = basic('admin', ADMIN_PASSWORD);

/**
 * A Redis (one server, or a local Redis Cluster), a logic and some connectors, as separate
 * processes; `env` applies to every service.
 */
export interface Stack<R extends TestRedis | TestRedisCluster = TestRedis> {
  readonly redis: R;
  readonly logic: ServiceProcess;
  readonly connectors: ServiceProcess[];
  readonly env: Record<string, string>;
  api(path: string, init?: { method?: string; auth?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  startConnector(extra?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<(number | null)[]>;
}

export interface StackOptions {
  /** @default 2 */
  readonly connectors?: number;
  readonly env?: Record<string, string>;
  /** Run on a local 3-master Redis Cluster (HERALD_REDIS_URL = its node list) instead of one server. */
  readonly cluster?: boolean;
}

export async function startStack(options?: StackOptions & { cluster?: false }): Promise<Stack<TestRedis>>;
export async function startStack(options: StackOptions & { cluster: true }): Promise<Stack<TestRedisCluster>>;
export async function startStack(options: StackOptions = {}): Promise<Stack<TestRedis | TestRedisCluster>> {
  const redis = options.cluster ? await startRedisCluster() : await startRedis();
  const env = {
    HERALD_REDIS_URL: redis.url,
    HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HERALD_CONNECTOR_PORT: '0',
    HERALD_LOGIC_PORT: '0',
    // The tests' callback receivers listen on 127.0.0.1, which Herald refuses by default; a test of
    // that refusal passes 'false'.
    HERALD_CALLBACK_ALLOW_PRIVATE: 'true',
    ...options.env,
  };
  const starting = await Promise.allSettled([
    startService('logic', { env }),
    ...Array.from({ length: options.connectors ?? 2 }, () => startService('connector', { env })),
  ]);
  const failed = starting.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    // Leave nothing running behind a failed start: the services that did start, and Redis.
    await Promise.all(starting.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
    await redis.stop();
    throw failed.reason;
  }
  const services = starting.map((result) => (result as PromiseFulfilledResult<ServiceProcess>).value);
  const [logic, ...connectors] = services as [ServiceProcess, ...ServiceProcess[]];
  const all = [logic, ...connectors];
  return {
    redis,
    logic,
    connectors,
    env,
    async api(path, init = {}) {
      const response = await fetch(`http://127.0.0.1:${logic.port}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          ...init.headers,
          ...(init.auth ? { authorization: init.auth } : {}),
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async startConnector(extra = {}) {
      const connector = await startService('connector', { env: { ...env, ...extra } });
      all.push(connector);
      return connector;
    },
    async stop() {
      const codes = await Promise.all(all.map((s) => s.stop()));
      await redis.stop();
      return codes;
    },
  };
}
