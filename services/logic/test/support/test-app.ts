import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';
import { startRedis, type TestRedis } from '@herald/test-support';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app';

/** A logic app (not listening: use `inject`) on a private redis-server, and a client of that Redis. */
export interface TestApp {
  readonly app: FastifyInstance;
  readonly redis: Redis;
  readonly server: TestRedis;
  close(): Promise<void>;
}

export async function startTestApp(adminPassword: string, env: Record<string, string> = {}): Promise<TestApp> {
  const server = await startRedis();
  let app: FastifyInstance | undefined;
  try {
    const config = loadConfig('logic', { HERALD_REDIS_URL: server.url, HERALD_ADMIN_PASSWORD: adminPassword, HERALD_LOG_LEVEL: 'silent', ...env });
    app = buildApp(config, createLogger('logic', 'silent'));
    await app.ready();
  } catch (error) {
    // A refused configuration or a failed start must not leave the redis-server running (jest
    // would wait for it for ever).
    await app?.close().catch(() => undefined);
    await server.stop();
    throw error;
  }
  const redis = new Redis(server.url);
  return {
    app: app as FastifyInstance,
    redis,
    server,
    async close() {
      await app.close();
      await redis.quit();
      await server.stop();
    },
  };
}
