/**
 * Health and shutdown with real processes (issue 2, item 7): SIGTERM makes a service stop
 * accepting, finish what is in flight, close Redis and exit 0 by itself; a wrong config value
 * stops the start with a message naming the variable.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Keys, NamespaceStore } from '@herald/store';
import { REPO_ROOT, isListening, startRedis, startService, until, type TestRedis } from '@herald/test-support';
import { basic, connectClient, emitWithAck } from './support/clients';

let redis: TestRedis;
let client: Redis;
const keys = new Keys('h:');

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  await new NamespaceStore(client, keys).save('/demo', { password: 'pw' });
});
afterAll(async () => {
  await client.quit();
  await redis.stop();
});

const env = () => ({ HERALD_REDIS_URL: redis.url, HERALD_CONNECTOR_PORT: '0', HERALD_LOGIC_PORT: '0', HERALD_ADMIN_PASSWORD: 'test-admin-password' });

test('a connector with connected clients exits 0 on SIGTERM, after marking them offline', async () => {
  const connector = await startService('connector', { env: env() });
  const a = await connectClient(connector.port, '/demo', { uuid: 'u1' });
  await emitWithAck(a.socket, 'joinRoom', 'r1');
  expect(await client.scard(keys.roomOnline('/demo', 'r1'))).toBe(1);
  const disconnected = new Promise((resolve) => a.socket.once('disconnect', resolve));

  const started = Date.now();
  expect(await connector.stop('SIGTERM')).toBe(0);
  expect(Date.now() - started).toBeLessThan(5000);
  await disconnected;
  expect(await client.scard(keys.roomOnline('/demo', 'r1'))).toBe(0);
  expect(await client.smembers(keys.roomMembers('/demo', 'r1'))).toEqual(['/demo#u1#web-u1']);
  expect(connector.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
  await expect(fetch(`http://127.0.0.1:${connector.port}/health`)).rejects.toThrow();
});

test.each(['logic', 'worker'] as const)('%s exits 0 on SIGTERM and SIGINT', async (role) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const service = await startService(role, { env: env() });
    expect(await service.stop(signal)).toBe(0);
    if (service.port) await expect(fetch(`http://127.0.0.1:${service.port}/health`)).rejects.toThrow();
  }
});

test('logic on SIGTERM stops accepting at once but finishes a push in flight, stores it, then exits 0', async () => {
  const logic = await startService('logic', { env: env() });
  // Writes wait in Redis (CLIENT PAUSE WRITE): the push is caught in the middle of storing itself.
  await client.call('CLIENT', 'PAUSE', '30000', 'WRITE');
  try {
    const answer = fetch(`http://127.0.0.1:${logic.port}/api/auth/push`, {
      method: 'POST',
      headers: { authorization: basic('/demo', 'pw'), 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'late', pushData: { late: true } }),
    });
    const blocked = async () => ((await client.call('CLIENT', 'LIST')) as string).split('\n').some((line) => / flags=\S*b/.test(line));
    await until(async () => ((await blocked()) ? true : undefined), 10_000);

    const exited = logic.stop('SIGTERM');
    await until(async () => (!(await isListening(logic.port)) ? true : undefined), 10_000);
    expect(await blocked()).toBe(true); // still in flight

    await client.call('CLIENT', 'UNPAUSE');
    const response = await answer;
    expect(response.status).toBe(200);
    const { id } = (await response.json()) as { id: number };
    expect(await client.hget(keys.message('/demo', id), 'room')).toBe('late');
    // Well inside pm2's kill_timeout for logic (10 s), though the client keeps its connection alive.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('logic still running 8 s after its last answer')), 8000)));
    expect(await Promise.race([exited, late]).finally(() => clearTimeout(timer))).toBe(0);
  } finally {
    await client.call('CLIENT', 'UNPAUSE');
    if (logic.child.exitCode === null && logic.child.signalCode === null) logic.child.kill('SIGKILL');
  }
});

test('a wrong configuration value stops the start, naming the variable', () => {
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'services/connector/dist/main.js')], {
    env: { PATH: process.env['PATH'], HERALD_CONNECTOR_PORT: '99999' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr).toBe('herald-connector: invalid configuration: HERALD_CONNECTOR_PORT: must be between 0 and 65535, got 99999\n');

  const logic = spawnSync(process.execPath, [join(REPO_ROOT, 'services/logic/dist/main.js')], {
    env: { PATH: process.env['PATH'] },
    encoding: 'utf8',
    timeout: 10_000,
  });
  expect(logic.status).toBe(1);
  expect(logic.stderr).toContain('HERALD_ADMIN_PASSWORD: is required');
});
