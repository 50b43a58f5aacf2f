/**
 * deploy/redis/redis.conf (issue 8, docs/deploy.md): a redis-server started with the file (only the
 * port, the directory and the log file overridden on the command line) starts, reports the
 * settings Herald depends on through CONFIG GET, and runs Herald — connector, logic and worker —
 * as the restricted ACL user the file's notes describe (`+@all -@admin`), through a live push and
 * an offline step that fills an inbox.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { REPO_ROOT, startRedis, startService, until, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic, connectClient, emitWithAck } from './support/clients';

jest.setTimeout(60_000);

const ADMIN_PASSWORD = 'redis-conf-admin-password';
const DEFAULT_PASSWORD = 'redis-conf-default-password';
const HERALD_PASSWORD = 'redis-conf-herald-password';

let redis: TestRedis;
let admin: Redis;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  redis = await startRedis({
    configFile: join(REPO_ROOT, 'deploy', 'redis', 'redis.conf'),
    // The file's authentication notes, made real: a password on the default user (used here for
    // CONFIG GET) and Herald's own ACL user without the admin commands.
    args: ['--requirepass', DEFAULT_PASSWORD, '--user', 'herald', 'on', `>${HERALD_PASSWORD}`, '~*', '&*', '+@all', '-@admin'],
  });
  admin = new Redis(redis.port, '127.0.0.1', { password: DEFAULT_PASSWORD, lazyConnect: true });
  await admin.connect();
});

afterAll(async () => {
  const codes = await Promise.all(services.map((s) => s.stop()));
  expect(codes.every((code) => code === 0)).toBe(true);
  await admin?.quit();
  await redis?.stop();
});

test('redis-server starts with the file and reports AOF everysec, noeviction, loopback bind and protected mode', async () => {
  const config = async (name: string) => ((await admin.config('GET', name)) as string[])[1];
  expect(await config('appendonly')).toBe('yes');
  expect(await config('appendfsync')).toBe('everysec');
  expect(await config('maxmemory-policy')).toBe('noeviction');
  expect(await config('protected-mode')).toBe('yes');
  expect(await config('bind')).toBe('127.0.0.1 -::1');
  expect(await config('save')).toBe('');
  expect(await config('dir')).toBe(redis.dir);
  const persistence = await admin.info('persistence');
  expect(persistence).toMatch(/^aof_enabled:1\r?$/m);
  // Nobody gets in without the password.
  const anonymous = new Redis(redis.port, '127.0.0.1', { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  anonymous.on('error', () => undefined); // the NOAUTH below is the expected answer
  await anonymous.connect();
  await expect(anonymous.get('x')).rejects.toThrow(/NOAUTH/);
  anonymous.disconnect();
});

test("Herald runs as the file's restricted ACL user: live push, ack, and the offline step into an inbox", async () => {
  const env = {
    HERALD_REDIS_URL: `redis://herald:${HERALD_PASSWORD}@127.0.0.1:${redis.port}`,
    HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HERALD_CONNECTOR_PORT: '0',
    HERALD_LOGIC_PORT: '0',
    HERALD_OFFLINE_DELAY_MS: '300',
  };
  services.push(...(await Promise.all([startService('logic', { env }), startService('connector', { env }), startService('worker', { env })])));
  const [logic, connector] = services as [ServiceProcess, ServiceProcess];
  const api = async (path: string, auth: string, body?: unknown) => {
    const response = await fetch(`http://127.0.0.1:${logic.port}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  expect(await api('/api/admin/namespace/save', basic('admin', ADMIN_PASSWORD), { key: '/acl', auth_passwd: 'pw' })).toEqual({ status: 200, body: {} });

  // `away` joins the room and leaves: the push's offline step must put the message in its inbox.
  const away = await connectClient(connector.port, '/acl', { uuid: 'away', platform: 'android' });
  expect(await emitWithAck(away.socket, 'joinRoom', 'r')).toMatchObject({ status: 200 });
  away.socket.close();
  const online = await connectClient(connector.port, '/acl', { uuid: 'online', platform: 'android' });
  expect(await emitWithAck(online.socket, 'joinRoom', 'r')).toMatchObject({ status: 200 });
  const received = new Promise<{ id: number }>((resolve) => online.socket.once('push', resolve));

  const pushed = await api('/api/auth/push', basic('/acl', 'pw'), { room: 'r', pushData: { via: 'acl' }, leaveMessage: true });
  expect(pushed.status).toBe(200);
  expect((await received).id).toBe(pushed.body.id);
  online.socket.emit('ackPush', { id: pushed.body.id });

  // The worker ran the offline step (the report says where the message went)...
  const report = await until(async () => {
    const { body } = await api(`/api/auth/report/push/${pushed.body.id}`, basic('/acl', 'pw'));
    return body.offline ? body : undefined;
  }, 20_000, 100);
  expect(report).toMatchObject({ ackCount: 1, offline: 'inbox:1 apns:0' });
  // ...and `away` finds the message in its inbox on its next connect.
  const back = await connectClient(connector.port, '/acl', { uuid: 'away', platform: 'android' });
  back.socket.close();
  online.socket.close();
  const offline = back.events.find((e) => e.event === 'offlineMessage');
  expect((offline?.args[0] as { id: number }[] | undefined)?.map((m) => m.id)).toEqual([pushed.body.id]);
});

test('a full Redis (maxmemory under noeviction) refuses the push with 503 and loses nothing stored; with room again pushes go on', async () => {
  const logic = services[0]!;
  const push = async () => {
    const response = await fetch(`http://127.0.0.1:${logic.port}/api/auth/push`, {
      method: 'POST',
      headers: { authorization: basic('/acl', 'pw'), 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'r', pushData: { full: true } }),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as any };
  };
  const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))![1]);
  await admin.config('SET', 'maxmemory', String(used)); // full now
  try {
    expect(await push()).toEqual({ status: 503, retryAfter: '1', body: { code: 'STORE_UNAVAILABLE', msg: 'service unavailable, retry later' } });
    // Refused, not made room for: noeviction never drops a key (a queue's job or lock, a message).
    expect(await admin.info('stats')).toMatch(/^evicted_keys:0\r?$/m);
  } finally {
    await admin.config('SET', 'maxmemory', '0');
  }
  const after = await push();
  expect(after.status).toBe(200);
});
