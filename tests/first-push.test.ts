/**
 * The first push, end to end, with real processes (issue 2): a third-party server creates a
 * namespace and pushes over REST; two stock socket.io clients on two connector processes receive
 * the message once, ack it, and the report counts both.
 */
import { startService, until, type ServiceProcess } from '@herald/test-support';
import { basic, connectClient, connectError, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

let stack: Stack;
let worker: ServiceProcess;
const clients: Recorded[] = [];
const api = (path: string, init?: { method?: string; auth?: string; body?: unknown }) => stack.api(path, init);

beforeAll(async () => {
  stack = await startStack({ connectors: 2, env: { HERALD_OFFLINE_DELAY_MS: '300' } });
  worker = await startService('worker', { env: stack.env });
});

afterAll(async () => {
  for (const client of clients) client.socket.close();
  const codes = [await worker.stop(), ...(await stack.stop())];
  // Each service closed what it opened and exited by itself with 0 on SIGTERM.
  expect(codes).toEqual([0, 0, 0, 0]);
});

test('a REST push reaches clients on two connectors once, and their acks reach the report', async () => {
  expect(await api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/demo', auth_passwd: 'pw' } })).toEqual({
    status: 200,
    body: {},
  });

  const a = await connectClient(stack.connectors[0]!.port, '/demo', { uuid: 'u1', userid: 'a', platform: 'web' });
  const b = await connectClient(stack.connectors[1]!.port, '/demo', { uuid: 'u2', userid: 'b', platform: 'android' });
  clients.push(a, b);
  expect(a.ok).toEqual({ system: expect.any(String), port: stack.connectors[0]!.port, clientId: '/demo#a#web-u1' });
  expect(b.ok).toEqual({ system: expect.any(String), port: stack.connectors[1]!.port, clientId: '/demo#b#android-u2' });
  expect(stack.connectors[0]!.port).not.toBe(stack.connectors[1]!.port);

  expect(await emitWithAck(a.socket, 'joinRoom', ['r1'])).toEqual({ status: 200, msg: 'ok' });
  expect(await emitWithAck(b.socket, 'joinRoom', ['r1'])).toEqual({ status: 200, msg: 'ok' });

  const received = Promise.all([a, b].map((c) => new Promise((resolve) => c.socket.once('push', resolve))));
  const push = await api('/api/auth/push', { auth: basic('/demo', 'pw'), body: { room: 'r1', pushData: { hello: 'world' } } });
  expect(push).toEqual({ status: 200, body: { id: expect.any(Number), expectAckCount: 2 } });
  const id = push.body['id'] as number;

  const expected = { id, namespace: '/demo', room: 'r1', pushData: { hello: 'world' }, sendDate: expect.any(Number) };
  expect(await received).toEqual([expected, expected]);

  for (const client of [a, b]) client.socket.emit('ackPush', { id });
  const report = await until(async () => {
    const r = await api(`/api/auth/report/push/${id}`, { auth: basic('/demo', 'pw') });
    return r.body['ackCount'] === 2 && r.body['onlineClientCount'] === 2 ? r.body : undefined;
  });
  expect(report).toMatchObject({ id, room: 'r1', ackCount: 2, ackAndroidCount: 1, ackIOSCount: 0, onlineClientCount: 2 });

  // Once, and nothing else: every event each client got, in order.
  for (const client of [a, b]) {
    expect(client.events.map((e) => e.event)).toEqual(['ok', 'push']);
  }
});

test('wrong namespace password → 401 passwd error, and nothing is pushed', async () => {
  const response = await api('/api/auth/push', { auth: basic('/demo', 'wrong'), body: { room: 'r1', pushData: {} } });
  expect(response).toEqual({ status: 401, body: { code: 'PASSWD_ERROR', msg: 'passwd error' } });
  for (const client of clients) expect(client.events.filter((e) => e.event === 'push')).toHaveLength(1);
});

test('unknown namespace on connect → connect_error "this namespace not found"', async () => {
  const error = await connectError(stack.connectors[0]!.port, '/nope', { uuid: 'u9' });
  expect(error.message).toBe('this namespace not found');
  expect(error.data).toEqual({ code: 'HS_NAMESPACE_NOT_FOUND' });
});

test('GET /health answers hello on logic and on each connector', async () => {
  for (const port of [stack.logic.port, stack.connectors[0]!.port, stack.connectors[1]!.port]) {
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello');
  }
});

test('except leaves out one client; extra:"lost" is stored, reported and kept offline, but not published', async () => {
  const [a, b] = clients as [Recorded, Recorded];
  const auth = basic('/demo', 'pw');
  const pushes = (c: Recorded) => c.events.filter((e) => e.event === 'push').map((e) => (e.args[0] as { id: number }).id);
  const [aBefore, bBefore] = [pushes(a).length, pushes(b).length];

  const toB = new Promise((resolve) => b.socket.once('push', resolve));
  const excepted = await api('/api/auth/push', { auth, body: { room: 'r1', pushData: { n: 1 }, except: '/demo#a#web-u1' } });
  expect(excepted).toEqual({ status: 200, body: { id: expect.any(Number), expectAckCount: 1 } });
  expect(await toB).toMatchObject({ id: excepted.body['id'] });

  const lost = await api('/api/auth/push', { auth, body: { room: 'r1', pushData: { n: 2 }, extra: 'lost', leaveMessage: true } });
  expect(lost).toEqual({ status: 200, body: { id: expect.any(Number), expectAckCount: 2 } });
  // A last push to everyone: what was published before it on the same path arrives before it.
  const marked = Promise.all([a, b].map((c) => new Promise((resolve) => c.socket.once('push', resolve))));
  const marker = await api('/api/auth/push', { auth, body: { room: 'r1', pushData: { n: 3 } } });
  await marked;
  expect(pushes(a).slice(aBefore)).toEqual([marker.body['id']]);
  expect(pushes(b).slice(bBefore)).toEqual([excepted.body['id'], marker.body['id']]);

  // The lost message is in the history with its report, and its offline step ran: the Android
  // client b never got it live, so it waits in b's inbox (a web client has none by default).
  const history = await api('/api/auth/report/push?size=3', { auth });
  expect(history.body.map((r: { id: number }) => r.id)).toEqual([marker.body['id'], lost.body['id'], excepted.body['id']]);
  const report = await until(async () => {
    const r = await api(`/api/auth/report/push/${lost.body['id']}`, { auth });
    return r.body['offline'] ? r.body : undefined;
  }, 15_000);
  expect(report).toMatchObject({ extra: 'lost', leaveMessage: true, onlineClientCount: 0, ackCount: 0, offline: 'inbox:1 apns:0' });
});
