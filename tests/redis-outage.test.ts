/**
 * Redis goes away and comes back (issue 7): logic answers 503 at once instead of hanging,
 * connectors keep their sockets, and everything resumes without a restart — including the
 * heartbeat, which must not make connectors reap each other's live clients afterwards.
 */
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { startRedis, startService, until, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic, connectClient, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, ADMIN_PASSWORD } from './support/stack';

const keys = new Keys('h:');
let server: TestRedis;
let logic: ServiceProcess;
let connectors: ServiceProcess[];
let clients: Recorded[] = [];

async function api(path: string, body: unknown, auth: string) {
  const started = Date.now();
  const response = await fetch(`http://127.0.0.1:${logic.port}${path}`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any, ms: Date.now() - started };
}

beforeAll(async () => {
  // Persistence on, so a restart keeps the data (as deploy/redis/redis.conf does).
  server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const env = {
    HERALD_REDIS_URL: server.url,
    HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HERALD_CONNECTOR_PORT: '0',
    HERALD_LOGIC_PORT: '0',
    HERALD_CONNECTOR_HEARTBEAT_MS: '200',
  };
  [logic, ...connectors] = await Promise.all([startService('logic', { env }), startService('connector', { env }), startService('connector', { env })]);
  expect((await api('/api/admin/namespace/save', { key: '/out', auth_passwd: 'pw' }, ADMIN)).status).toBe(200);
  clients = await Promise.all(connectors.map((c, i) => connectClient(c.port, '/out', { uuid: `o${i}` })));
  for (const c of clients) await emitWithAck(c.socket, 'joinRoom', 'room');
});
afterAll(async () => {
  for (const c of clients) c.socket.close();
  const codes = await Promise.all([logic, ...connectors].map((s) => s.stop()));
  await server.stop();
  expect(codes).toEqual([0, 0, 0]);
});

test('while Redis is down logic answers 503 quickly and sockets stay; afterwards everything resumes', async () => {
  const auth = basic('/out', 'pw');
  await server.kill();
  const refused = await api('/api/auth/push', { room: 'room', pushData: { n: 1 } }, auth);
  expect(refused.status).toBe(503);
  expect(refused.body).toEqual({ code: 'STORE_UNAVAILABLE', msg: 'service unavailable, retry later' });
  expect(refused.ms).toBeLessThan(3000);
  // Longer than three heartbeats: every connector's last beat is stale when Redis returns.
  await new Promise((r) => setTimeout(r, 1000));
  for (const c of clients) expect(c.socket.connected).toBe(true);

  await server.restart();
  const received = Promise.all(clients.map((c) => new Promise<any>((r) => c.socket.once('push', r))));
  const accepted = await until(async () => {
    const r = await api('/api/auth/push', { room: 'room', pushData: { n: 2 } }, auth);
    return r.status === 200 ? r.body : undefined;
  }, 10_000, 100);
  expect(accepted.expectAckCount).toBe(2);
  expect((await received).map((m) => m.pushData)).toEqual([{ n: 2 }, { n: 2 }]);
  for (const c of clients) expect(c.events.map((e) => e.event)).not.toContain('disconnect');

  // Several heartbeats later nobody reaped anybody: both clients are still online in Redis.
  const redis = new Redis(server.url);
  const beats = await redis.zcard(keys.connectors());
  await new Promise((r) => setTimeout(r, 1500));
  expect(await redis.scard(keys.roomOnline('/out', 'room'))).toBe(2);
  expect(beats).toBe(2);
  await redis.quit();
});
