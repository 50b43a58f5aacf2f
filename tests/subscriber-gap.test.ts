/**
 * A connector's adapter subscriber connection drops while Redis stays up: a push accepted in that
 * gap was published to nobody on that connector (Redis pub/sub keeps nothing). When the subscriber
 * is back, the connector re-delivers what was published while it was away (core/subscriber-catch-up.ts),
 * once, and the delivery counts in the report.
 *
 * To keep the subscriber away for as long as the test needs (ioredis reconnects within a second),
 * the connector logs in as its own ACL user, which the test switches off before killing the
 * subscriber connection: the connector's other connections stay open, the subscriber's reconnects
 * fail until the user is on again. Logic uses the `default` user, given a password so that a failed
 * login of the connector cannot fall back to it.
 */
import { Redis } from 'ioredis';
import { startRedis, startService, until, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic, connectClient, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, ADMIN_PASSWORD } from './support/stack';

let server: TestRedis;
let admin: Redis;
let logic: ServiceProcess;
let connector: ServiceProcess;
let client: Recorded | undefined;
const auth = basic('/gap', 'pw');

function withUser(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
}

async function api(path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${logic.port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: path.startsWith('/api/admin') ? ADMIN : auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Ids of the open connections with this name (CLIENT LIST). */
async function connectionIds(name: string): Promise<string[]> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.split(' ').includes(`name=${name}`))
    .map((line) => /(?:^| )id=(\d+)/.exec(line)![1]!);
}

beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
  await admin.call('ACL', 'SETUSER', 'connector', 'on', '>connector-pw', '~*', '&*', '+@all');
  await admin.call('ACL', 'SETUSER', 'default', 'resetpass', '>default-pw');
  const env = { HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD, HERALD_CONNECTOR_PORT: '0', HERALD_LOGIC_PORT: '0' };
  [logic, connector] = await Promise.all([
    startService('logic', { env: { ...env, HERALD_REDIS_URL: withUser(server.url, 'default', 'default-pw') } }),
    startService('connector', { env: { ...env, HERALD_REDIS_URL: withUser(server.url, 'connector', 'connector-pw') } }),
  ]);
  expect((await api('/api/admin/namespace/save', { key: '/gap', auth_passwd: 'pw' })).status).toBe(200);
});
afterAll(async () => {
  client?.socket.close();
  const codes = await Promise.all([logic, connector].map((s) => s.stop()));
  await admin.quit();
  await server.stop();
  expect(codes).toEqual([0, 0]);
});

test('a push accepted while the connector’s subscriber is away reaches the live client once, and counts in the report', async () => {
  client = await connectClient(connector.port, '/gap', { uuid: 'gap-1' });
  expect(await emitWithAck(client.socket, 'joinRoom', 'room')).toEqual({ status: 200, msg: 'ok' });

  const [subscriber] = await connectionIds('herald-connector-sub');
  expect(subscriber).toBeDefined();
  await admin.call('ACL', 'SETUSER', 'connector', 'off');
  expect(await admin.call('CLIENT', 'KILL', 'ID', subscriber!)).toBe(1);

  const accepted = await api('/api/auth/push', { room: 'room', pushData: { n: 1 } });
  expect(accepted).toEqual({ status: 200, body: { id: expect.any(Number), expectAckCount: 1 } });
  const id = accepted.body.id as number;
  // The push went out while nobody of this connector listened; its socket stayed connected.
  expect(await connectionIds('herald-connector-sub')).toEqual([]);
  expect(client.socket.connected).toBe(true);

  // Bounded, to fail with a message instead of jest's timeout: the subscriber is back within a second.
  const received = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the push accepted in the gap never reached the client')), 10_000);
    client!.socket.once('push', (message) => resolve(message));
    client!.socket.once('push', () => clearTimeout(timer));
  });
  await admin.call('ACL', 'SETUSER', 'connector', 'on');
  expect(await received).toEqual({ id, namespace: '/gap', room: 'room', pushData: { n: 1 }, sendDate: expect.any(Number) });

  const report = await until(async () => {
    const r = await api(`/api/auth/report/push/${id}`);
    return r.body.onlineClientCount === 1 ? r.body : undefined;
  });
  expect(report).toMatchObject({ id, room: 'room', onlineClientCount: 1 });
  // The operator sees the catch-up in the connector's log.
  const logged = await connector.waitForLog((line) => line.msg.startsWith('adapter subscriber back'));
  expect(logged).toMatchObject({ namespaces: 1, redelivered: 1 });

  // Exactly once: a live push after it arrives, and the first came only once before it.
  const next = new Promise((resolve) => client!.socket.once('push', resolve));
  const second = await api('/api/auth/push', { room: 'room', pushData: { n: 2 } });
  expect(second.status).toBe(200);
  await next;
  const pushes = client.events.filter((e) => e.event === 'push').map((e) => (e.args[0] as { pushData: unknown }).pushData);
  expect(pushes).toEqual([{ n: 1 }, { n: 2 }]);
});
