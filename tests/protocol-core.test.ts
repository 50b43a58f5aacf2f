/**
 * The protocol-neutral core (issue 12), end to end with real processes: the namespace's `protocol`
 * field and the connector's refusal of a protocol it does not serve, and three holes the push core
 * had — identity takeover through a connect callback, colliding client ids, and acks counted for
 * messages a client never got.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Keys } from '@herald/store';
import { startService, until } from '@herald/test-support';
import { Redis } from 'ioredis';
import { Manager, io } from 'socket.io-client';
import { basic, clients, emitWithAck, type Recorded, type TestSocket } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

let stack: Stack;
let redis: Redis;
let callback: Server;
let callbackUrl: string;
const keys = new Keys('h:');
const opened: Recorded[] = [];
const v4 = clients('v4');

/** A third-party connect callback: the token in the handshake query names the user. */
async function startCallback(): Promise<void> {
  callback = createServer((req, res) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    const user = token?.startsWith('token-') ? token.slice('token-'.length) : undefined;
    if (!user) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ userid: user }));
  });
  callback.listen(0, '127.0.0.1');
  await once(callback, 'listening');
  callbackUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/connect`;
}

async function connect(connector: number, namespace: string, query: Record<string, string>): Promise<Recorded & { ok: { clientId: string } }> {
  if (namespace.includes('#')) return connectByName(connector, namespace, query);
  const c = await v4.connect(stack.connectors[connector]!.port, namespace, query);
  opened.push(c);
  return c;
}

/** A namespace whose name holds `#` (a URL fragment) is opened by name through a Manager. */
function connectByName(connector: number, namespace: string, query: Record<string, string>): Promise<Recorded & { ok: { clientId: string } }> {
  const manager = new Manager(`http://127.0.0.1:${stack.connectors[connector]!.port}`, { query, transports: ['websocket'], reconnection: false, forceNew: true });
  const socket = manager.socket(namespace) as unknown as TestSocket;
  const events: { event: string; args: unknown[] }[] = [];
  socket.onAny((event: string, ...args: unknown[]) => events.push({ event, args }));
  const c = { socket, events };
  opened.push(c);
  return new Promise((resolve, reject) => {
    socket.once('ok', (ok) => resolve({ ...c, ok }));
    socket.once('connect_error', reject);
  });
}

// socket.io-client@2 (Engine.IO 3), installed under an alias beside v4; it ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, options: object) => TestSocket = require('socket.io-client-v2');

/** A client of the root namespace `/` on socket.io path `path` (seed clients of mapped paths). */
function connectOnPath(connector: number, path: string, version: 'v4' | 'v2', query: Record<string, string>): Promise<Recorded & { ok: { clientId: string } }> {
  const url = `http://127.0.0.1:${stack.connectors[connector]!.port}`;
  const options = { path, query, transports: ['websocket'], reconnection: false, forceNew: true };
  const socket = version === 'v4' ? (io(url, options) as TestSocket) : ioV2(url, options);
  const events: { event: string; args: unknown[] }[] = [];
  for (const event of ['ok', 'push', 'offlineMessage', 'kickout', 'peopleJoin', 'peopleLeave']) {
    (socket as any).on(event, (...args: unknown[]) => events.push({ event, args }));
  }
  const c = { socket, events };
  opened.push(c);
  return new Promise((resolve, reject) => {
    socket.once('ok', (ok) => resolve({ ...c, ok }));
    (socket as any).once(version === 'v4' ? 'connect_error' : 'error', reject);
  });
}

function next<T = unknown>(c: Recorded, event: string): Promise<T> {
  return new Promise((resolve) => (c.socket as any).once(event, resolve));
}

async function saveNamespace(body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return stack.api('/api/admin/namespace/save', { auth: ADMIN, body });
}

beforeAll(async () => {
  await startCallback();
  // Loopback callbacks are what this test needs (a later hardening refuses them unless allowed).
  stack = await startStack({
    connectors: 2,
    env: { HERALD_CALLBACK_ALLOW_PRIVATE: 'true', HERALD_SOCKET_PATHS: '/socket.io,/socket=/paths,/wechat=/t' },
  });
  redis = new Redis(stack.redis.url);
  for (const key of ['/t', '/t#x', '/paths']) expect((await saveNamespace({ key, auth_passwd: 'pw' })).status).toBe(200);
  expect((await saveNamespace({ key: '/cb', auth_passwd: 'pw', connect_callback: callbackUrl })).status).toBe(200);
});

afterAll(async () => {
  for (const c of opened) c.socket.close();
  await redis.quit();
  callback.closeAllConnections();
  callback.close();
  expect(await stack.stop()).toEqual([0, 0, 0]);
});

describe('namespace protocol', () => {
  test('a namespace saved with a served protocol shows it; records without one are push clients', async () => {
    expect(await saveNamespace({ key: '/proto', auth_passwd: 'pw', protocol: 'push' })).toEqual({ status: 200, body: {} });
    const list = await stack.api('/api/admin/namespace/list?key=/proto', { auth: ADMIN });
    expect(list.body.list).toEqual([expect.objectContaining({ key: '/proto', protocol: 'push' })]);
    const own = await stack.api('/api/auth/namespace', { auth: basic('/proto', 'pw') });
    expect(own.body).toMatchObject({ key: '/proto', protocol: 'push' });
    const c = await connect(0, '/proto', { uuid: 'p1' });
    expect(c.ok.clientId).toBe('/proto#p1#web-p1');
  });

  test.each(['gopher', 'telnet', ''])('protocol %j: PROTOCOL_UNKNOWN and nothing saved', async (protocol) => {
    const answer = await saveNamespace({ key: '/unsaved', auth_passwd: 'pw', protocol });
    expect(answer).toEqual({ status: 400, body: { code: 'PROTOCOL_UNKNOWN', msg: `protocol unknown: ${JSON.stringify(protocol)}` } });
    expect(await redis.exists(keys.namespace('/unsaved'))).toBe(0);
    const list = await stack.api('/api/admin/namespace/list?key=/unsaved', { auth: ADMIN });
    expect(list.body).toEqual({ list: [], total: 0 });
  });

  test('a connector dedicated to some protocols (HERALD_PROTOCOLS) refuses the handshakes of the others', async () => {
    expect((await saveNamespace({ key: '/chatty', protocol: 'webservice', settings: { auth_url: 'http://127.0.0.1:9/rooms' } })).status).toBe(200);
    const dedicated = await startService('connector', {
      env: { HERALD_REDIS_URL: stack.redis.url, HERALD_CONNECTOR_PORT: '0', HERALD_PROTOCOLS: 'push,chat' },
    });
    try {
      const refusal = await v4.refusal(dedicated.port, '/chatty', { uuid: 'c1' });
      expect(refusal.message).toBe('protocol not served by this connector: webservice');
      expect(refusal.data).toEqual({ code: 'HS_PROTOCOL_UNSUPPORTED' });
      // Its own protocols are served as on any connector.
      const c = await v4.connect(dedicated.port, '/proto', { uuid: 'p2' });
      opened.push(c);
      expect(c.ok.clientId).toBe('/proto#p2#web-p2');
    } finally {
      expect(await dedicated.stop()).toBe(0);
    }
  });

  test('HERALD_PROTOCOLS naming no protocol stops the connector with a clear error', async () => {
    const bad = await startService('connector', { env: { HERALD_REDIS_URL: stack.redis.url, HERALD_CONNECTOR_PORT: '0', HERALD_PROTOCOLS: 'push,telnet' } }).catch(
      (error: Error) => error,
    );
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toContain('connector exited (1) before it was ready');
    expect((bad as Error).message).toContain('HERALD_PROTOCOLS');
    expect((bad as Error).message).toContain('"telnet" is not a protocol (push, webservice, sessions, roomsync, chat)');
  });
});

describe('identity takeover through a connect callback', () => {
  test('the clientId comes from the user the callback names, not from the handshake’s userid', async () => {
    const bob = await connect(0, '/cb', { uuid: 'bob-phone', userid: 'bob', token: 'token-bob' });
    expect(bob.ok.clientId).toBe('/cb#bob#web-bob-phone');
    // Bob has a message waiting in his inbox (as if the offline step had put it there).
    const first = next(bob, 'push');
    const secret = await stack.api('/api/auth/push', { auth: basic('/cb', 'pw'), body: { room: 'user_bob', pushData: { secret: 1 } } });
    await first;
    await redis.zadd(keys.clientInbox('/cb#bob#web-bob-phone'), secret.body.id, String(secret.body.id));

    // Mallory has a valid token of her own and sends Bob's userid and uuid.
    const mallory = await connect(1, '/cb', { uuid: 'bob-phone', userid: 'bob', token: 'token-mallory' });
    expect(mallory.ok.clientId).toBe('/cb#mallory#web-bob-phone');
    expect(mallory.events.map((e) => e.event)).toEqual(['ok']); // no replay of Bob's inbox

    // Bob was not kicked, and a push to Bob reaches Bob only.
    const got = next(bob, 'push');
    const push = await stack.api('/api/auth/push', { auth: basic('/cb', 'pw'), body: { room: 'user_bob', pushData: { to: 'bob' } } });
    expect(push.body.expectAckCount).toBe(1);
    expect(await got).toMatchObject({ room: 'user_bob', pushData: { to: 'bob' } });
    expect(bob.events.map((e) => e.event)).toEqual(['ok', 'push', 'push']);
    expect(mallory.events.map((e) => e.event)).toEqual(['ok']);
    expect(bob.socket.connected).toBe(true);
  });
});

describe('client ids never collide', () => {
  test.each([
    // Namespace `/t` + userid `x#u` against namespace `/t#x` + userid `u`.
    [['/t', 'x#u', 'd1'], ['/t#x', 'u', 'd1'], '/t#x%23u#web-d1', '/t#x#u#web-d1'],
    // One namespace: userid `a#web-b` + uuid `c` against userid `a` + uuid `b#web-c`.
    [['/t', 'a#web-b', 'c'], ['/t', 'a', 'b#web-c'], '/t#a%23web-b#web-c', '/t#a#web-b%23web-c'],
  ])('%j and %j are two clients with two records', async (first, second, firstId, secondId) => {
    const [ns1, user1, uuid1] = first as [string, string, string];
    const [ns2, user2, uuid2] = second as [string, string, string];
    const a = await connect(0, ns1, { uuid: uuid1, userid: user1 });
    const b = await connect(1, ns2, { uuid: uuid2, userid: user2 });
    expect([a.ok.clientId, b.ok.clientId]).toEqual([firstId, secondId]);
    // Neither kicked the other, and each namespace reads its own client's record.
    expect(a.events.map((e) => e.event)).toEqual(['ok']);
    expect(a.socket.connected && b.socket.connected).toBe(true);
    for (const [ns, id, userid] of [[ns1, firstId, user1], [ns2, secondId, user2]] as const) {
      const record = await stack.api(`/api/auth/client/${encodeURIComponent(id)}`, { auth: basic(ns, 'pw') });
      expect(record).toMatchObject({ status: 200, body: { userid, platform: 'web' } });
    }
  });
});

describe('acks count only for clients a message was sent to', () => {
  test('an ackPush of a message of another room is answered but not counted', async () => {
    const member = await connect(0, '/t', { uuid: 'member' });
    const outsider = await connect(0, '/t', { uuid: 'outsider' });
    await emitWithAck(member.socket, 'joinRoom', 'r1');
    await emitWithAck(outsider.socket, 'joinRoom', 'r2');
    const got = next(member, 'push');
    const { body } = await stack.api('/api/auth/push', { auth: basic('/t', 'pw'), body: { room: 'r1', pushData: {} } });
    await got;
    expect(await new Promise((r) => outsider.socket.emit('ackPush', { id: body.id }, r))).toEqual({ status: 200, msg: 'ok' });
    // A marker the outsider did get: once its ack is counted, the outsider's earlier ack was applied or ignored.
    const markerGot = next(outsider, 'push');
    const marker = (await stack.api('/api/auth/push', { auth: basic('/t', 'pw'), body: { room: 'r2', pushData: {} } })).body.id;
    await markerGot;
    outsider.socket.emit('ackPush', { id: marker });
    await until(async () => ((await stack.api(`/api/auth/report/push/${marker}`, { auth: basic('/t', 'pw') })).body.ackCount === 1 ? true : undefined));
    expect((await stack.api(`/api/auth/report/push/${body.id}`, { auth: basic('/t', 'pw') })).body.ackCount).toBe(0);

    member.socket.emit('ackPush', { id: body.id });
    const report = await until(async () => {
      const r = (await stack.api(`/api/auth/report/push/${body.id}?ackDetail=true`, { auth: basic('/t', 'pw') })).body;
      return r.ackCount === 1 ? r : undefined;
    });
    expect(report.ackWebDetail).toEqual(['/t#member#web-member']);
  });

  test('the excluded client’s ack is not counted', async () => {
    const sender = await connect(1, '/t', { uuid: 'sender' });
    const reader = await connect(1, '/t', { uuid: 'reader' });
    await emitWithAck(sender.socket, 'joinRoom', 'r3');
    await emitWithAck(reader.socket, 'joinRoom', 'r3');
    const got = next(reader, 'push');
    const { body } = await stack.api('/api/auth/push', { auth: basic('/t', 'pw'), body: { room: 'r3', pushData: {}, except: '/t#sender#web-sender' } });
    await got;
    sender.socket.emit('ackPush', { id: body.id });
    // A marker the sender did get: once its ack is counted, the sender's earlier ack was applied or ignored.
    const markerGot = next(sender, 'push');
    const marker = (await stack.api('/api/auth/push', { auth: basic('/t', 'pw'), body: { room: 'user_sender', pushData: {} } })).body.id;
    await markerGot;
    sender.socket.emit('ackPush', { id: marker });
    await until(async () => ((await stack.api(`/api/auth/report/push/${marker}`, { auth: basic('/t', 'pw') })).body.ackCount === 1 ? true : undefined));
    expect((await stack.api(`/api/auth/report/push/${body.id}`, { auth: basic('/t', 'pw') })).body.ackCount).toBe(0);

    reader.socket.emit('ackPush', { id: body.id });
    const report = await until(async () => {
      const r = (await stack.api(`/api/auth/report/push/${body.id}?ackDetail=true`, { auth: basic('/t', 'pw') })).body;
      return r.ackCount === 1 ? r : undefined;
    });
    expect(report.ackWebDetail).toEqual(['/t#reader#web-reader']);
  });
});

describe('several socket.io paths (HERALD_SOCKET_PATHS)', () => {
  test('root-namespace clients of a mapped path, v4 and v2, on two connectors, are clients of its namespace', async () => {
    const a = await connectOnPath(0, '/socket', 'v4', { uuid: 'pa' });
    const b = await connectOnPath(1, '/socket', 'v2', { uuid: 'pb', platform: 'android' });
    const c = await connect(1, '/paths', { uuid: 'pc' });
    expect([a.ok.clientId, b.ok.clientId, c.ok.clientId]).toEqual(['/paths#pa#web-pa', '/paths#pb#android-pb', '/paths#pc#web-pc']);
    for (const client of [a, b, c]) expect(await emitWithAck(client.socket, 'joinRoom', 'lobby')).toEqual({ status: 200, msg: 'ok' });
    expect((await redis.smembers(keys.roomOnline('/paths', 'lobby'))).sort()).toEqual(['/paths#pa#web-pa', '/paths#pb#android-pb', '/paths#pc#web-pc']);

    const got = Promise.all([a, b, c].map((client) => next(client, 'push')));
    const { body } = await stack.api('/api/auth/push', { auth: basic('/paths', 'pw'), body: { room: 'lobby', pushData: { via: 'path' } } });
    expect(body.expectAckCount).toBe(3);
    const expected = { id: body.id, namespace: '/paths', room: 'lobby', pushData: { via: 'path' }, sendDate: expect.any(Number) };
    expect(await got).toEqual([expected, expected, expected]);
    for (const client of [a, b, c]) client.socket.emit('ackPush', { id: body.id });
    const report = await until(async () => {
      const r = (await stack.api(`/api/auth/report/push/${body.id}`, { auth: basic('/paths', 'pw') })).body;
      return r.ackCount === 3 ? r : undefined;
    });
    expect(report).toMatchObject({ ackCount: 3, ackAndroidCount: 1, onlineClientCount: 3 });

    // The same client on the default path replaces the mapped-path connection (eviction across servers).
    const kicked = next(a, 'kickout');
    const again = await connect(0, '/paths', { uuid: 'pa' });
    expect(again.ok.clientId).toBe('/paths#pa#web-pa');
    expect(await kicked).toEqual({ reason: 'duplicate' });
  });

  test('a path maps only its own namespace; other namespaces are reached by name on it', async () => {
    const mapped = await connectOnPath(1, '/wechat', 'v4', { uuid: 'w1' });
    expect(mapped.ok.clientId).toBe('/t#w1#web-w1');
    const named = io(`http://127.0.0.1:${stack.connectors[1]!.port}/paths`, { path: '/wechat', query: { uuid: 'w2' }, transports: ['websocket'], reconnection: false, forceNew: true });
    opened.push({ socket: named as TestSocket, events: [] });
    expect(await new Promise((resolve) => named.once('ok' as any, resolve))).toMatchObject({ clientId: '/paths#w2#web-w2' });
  });
});
