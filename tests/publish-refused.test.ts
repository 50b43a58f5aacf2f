/**
 * Issue 12, "publish failures": logic runs as a Redis ACL user that may publish on the namespace
 * change channel only, so every PUBLISH to the connectors is refused — inside the push script, after
 * a `leaveMessage` push's offline job, and for a transfer notice. Each push is still accepted and
 * stored, each refusal is logged as a warning, and nothing is an unhandled rejection (before the fix
 * the emitter's refused PUBLISH was one: logic logged "unhandled rejection" for every push).
 */
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { startRedis, startService, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic } from './support/clients';
import { ADMIN, ADMIN_PASSWORD } from './support/stack';

const keys = new Keys('h:');
let server: TestRedis;
let redis: Redis;
let logic: ServiceProcess;

async function api(path: string, auth: string, body: unknown) {
  const response = await fetch(`http://127.0.0.1:${logic.port}${path}`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  await redis.call('ACL', 'SETUSER', 'herald', 'on', '>pw', '~*', 'resetchannels', `&${keys.namespaceChannel()}`, '+@all');
  logic = await startService('logic', {
    env: { HERALD_REDIS_URL: server.url.replace('redis://', 'redis://herald:pw@'), HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD, HERALD_LOGIC_PORT: '0' },
  });
  expect((await api('/api/admin/namespace/save', ADMIN, { key: '/p', auth_passwd: 'pw' })).status).toBe(200);
});
afterAll(async () => {
  await logic.stop();
  await redis.quit();
  await server.stop();
});

test('refused publishes to the connectors: pushes and transfers are answered 200, stored, each refusal logged, no unhandled rejection', async () => {
  const auth = basic('/p', 'pw');
  const live = await api('/api/auth/push', auth, { room: 'r', pushData: { n: 1 } });
  const kept = await api('/api/auth/push', auth, { room: 'r', pushData: { n: 2 }, leaveMessage: true });
  const transfer = await api('/api/auth/transfer', auth, { sourceRooms: ['r'], targetRoom: 's', type: 'join' });
  expect([live, kept, transfer].map((r) => r.status)).toEqual([200, 200, 200]);
  expect(kept.body.id).toBe(live.body.id + 1);
  expect(await redis.hget(keys.message('/p', live.body.id), 'pushData')).toBe('{"n":1}');

  const refusal = (event: string) => (line: { msg: string; [k: string]: unknown }) =>
    line.msg === 'redis refused the publish to the connectors; the offline step re-delivers' && line['event'] === event;
  const lines = [await logic.waitForLog(refusal('herald:push')), await logic.waitForLog(refusal('herald:transfer'))];
  for (const line of lines) expect(line).toMatchObject({ level: 40, namespace: '/p', err: expect.stringMatching(/channel/) });
  expect(logic.logs.filter(refusal('herald:push'))).toHaveLength(2);
  // Still serving, and nothing went unhandled.
  expect((await api('/api/auth/push', auth, { room: 'r', pushData: {} })).status).toBe(200);
  expect(logic.logs.filter((line) => line.msg === 'unhandled rejection' || line.level >= 50)).toEqual([]);
});
