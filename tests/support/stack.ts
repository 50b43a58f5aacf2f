import { startRedis, startService, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic } from './clients';

export const ADMIN_PASSWORD = 'test-admin-password';
export const ADMIN = basic('admin', ADMIN_PASSWORD);

/** A Redis, a logic and some connectors, as separate processes; `env` applies to every service. */
export interface Stack {
  readonly redis: TestRedis;
  readonly logic: ServiceProcess;
  readonly connectors: ServiceProcess[];
  readonly env: Record<string, string>;
  api(path: string, init?: { method?: string; auth?: string; body?: unknown }): Promise<{ status: number; body: any }>;
  startConnector(extra?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<(number | null)[]>;
}

export async function startStack(options: { connectors?: number; env?: Record<string, string> } = {}): Promise<Stack> {
  const redis = await startRedis();
  const env = {
    HERALD_REDIS_URL: redis.url,
    HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HERALD_CONNECTOR_PORT: '0',
    HERALD_LOGIC_PORT: '0',
    ...options.env,
  };
  const services = await Promise.all([
    startService('logic', { env }),
    ...Array.from({ length: options.connectors ?? 2 }, () => startService('connector', { env })),
  ]);
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
