/**
 * A push whose reply from Redis is lost with the connection (the script ran, the answer never came
 * back): logic must not run it again after reconnecting — ioredis' default would, storing and
 * publishing the push twice under two ids that no client can tell apart. Logic answers 503 instead;
 * the push is stored once, and a retry with the same Idempotency-Key gets its id.
 * Real processes: logic talks to a real redis-server through a TCP proxy that swallows the reply of
 * one push and drops the connection.
 */
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { startRedis, startService, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic } from './support/clients';
import { startReplySwallowingProxy, type ReplySwallowingProxy } from './support/reply-swallowing-proxy';
import { ADMIN, ADMIN_PASSWORD } from './support/stack';

const keys = new Keys('h:');
let server: TestRedis;
let redis: Redis;
let proxy: ReplySwallowingProxy;
let logic: ServiceProcess;

async function api(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`http://127.0.0.1:${logic.port}${path}`, {
    method: 'POST',
    headers: { authorization: path.startsWith('/api/admin') ? ADMIN : basic('/lost', 'pw'), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  proxy = await startReplySwallowingProxy(server.port);
  logic = await startService('logic', {
    env: {
      HERALD_REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      HERALD_LOGIC_PORT: '0',
      HERALD_REDIS_COMMAND_TIMEOUT_MS: '1500',
    },
  });
  expect((await api('/api/admin/namespace/save', { key: '/lost', auth_passwd: 'pw' })).status).toBe(200);
});
afterAll(async () => {
  expect(await logic.stop()).toBe(0);
  await proxy.close();
  await redis.quit();
  await server.stop();
});

test('a push whose reply was lost is stored once and answered 503; the retry with its Idempotency-Key gets its id', async () => {
  const first = await api('/api/auth/push', { room: 'r', pushData: { n: 1 } });
  expect(first).toEqual({ status: 200, body: { id: 1, expectAckCount: 0 } });

  proxy.swallowNext('pushData');
  const lost = await api('/api/auth/push', { room: 'r', pushData: { n: 2 } }, { 'idempotency-key': 'order-2' });
  expect(proxy.swallowed).toBe(1);
  expect(lost).toEqual({ status: 503, body: { code: 'STORE_UNAVAILABLE', msg: expect.any(String) } });
  // Redis ran the script once: one message more, not two.
  expect(await redis.get(keys.messageSeq('/lost'))).toBe('2');
  expect(await redis.lrange(keys.history('/lost'), 0, -1)).toEqual(['2', '1']);

  // The caller retries with its key: the stored push's answer, nothing stored again.
  const retried = await api('/api/auth/push', { room: 'r', pushData: { n: 2 } }, { 'idempotency-key': 'order-2' });
  expect(retried).toEqual({ status: 200, body: { id: 2, expectAckCount: 0 } });
  expect(await redis.get(keys.messageSeq('/lost'))).toBe('2');
  expect(await redis.hget(keys.message('/lost', 2), 'pushData')).toBe('{"n":2}');
});
