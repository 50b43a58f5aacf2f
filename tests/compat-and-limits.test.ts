/**
 * Clients of the seed era (socket.io v2, Engine.IO 3) beside v4 clients — every client and server
 * event of the push protocol with a v2 client —, the Origin allow-list and the socket payload limit
 * (issue 3, items 10 and 11).
 */
import { Redis } from 'ioredis';
import { io as ioV4 } from 'socket.io-client';
import { Keys } from '@herald/store';
import { startService, until, type ServiceProcess } from '@herald/test-support';
import { basic, connectClient, emitWithAck } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';
// socket.io-client@2, installed under an alias beside v4.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, opts: object) => any = require('socket.io-client-v2');

let stack: Stack;
let worker: ServiceProcess;
let redis: Redis;
const keys = new Keys('h:');
const closers: (() => void)[] = [];
const NSP_AUTH = basic('/demo', 'pw');
const OK = { status: 200, msg: 'ok' };

beforeAll(async () => {
  stack = await startStack({ connectors: 1, env: { HERALD_ALLOWED_ORIGINS: 'https://good.example', HERALD_OFFLINE_DELAY_MS: '300' } });
  worker = await startService('worker', { env: stack.env });
  redis = new Redis(stack.redis.url);
  await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/demo', auth_passwd: 'pw' } });
});
afterAll(async () => {
  for (const close of closers) close();
  await redis.quit();
  expect(await worker.stop()).toBe(0);
  await stack.stop();
});

/** The next `event` a (v2) socket gets. */
const next = (socket: any, event: string): Promise<any> => new Promise((resolve) => socket.once(event, resolve));
/** Emits with an ack callback and resolves with the answer. */
const call = (socket: any, event: string, payload: unknown): Promise<any> => new Promise((resolve) => socket.emit(event, payload, resolve));

function v2(query: Record<string, string>, namespace = '/demo', port = stack.connectors[0]!.port): any {
  const socket = ioV2(`http://127.0.0.1:${port}${namespace}`, {
    query,
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  closers.push(() => socket.close());
  return socket;
}

describe('socket.io v2 clients (allowEIO3)', () => {
  test('connect, join, receive a push and ack it, beside a v4 client', async () => {
    const old = v2({ uuid: 'old1', platform: 'android' });
    const ok = await new Promise<any>((resolve) => old.once('ok', resolve));
    expect(ok.clientId).toBe('/demo#old1#android-old1');
    expect(await new Promise((resolve) => old.emit('joinRoom', ['mixed'], resolve))).toEqual({ status: 200, msg: 'ok' });
    const modern = await connectClient(stack.connectors[0]!.port, '/demo', { uuid: 'new1' });
    closers.push(() => modern.socket.close());
    await emitWithAck(modern.socket, 'joinRoom', 'mixed');

    const received = Promise.all([new Promise<any>((r) => old.once('push', r)), new Promise<any>((r) => modern.socket.once('push', r))]);
    const { body } = await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'mixed', pushData: { v: 2 } } });
    expect(body.expectAckCount).toBe(2);
    const [a, b] = await received;
    expect(a).toEqual(b);
    expect(a).toMatchObject({ id: body.id, pushData: { v: 2 } });
    old.emit('ackPush', { id: body.id });
    await until(async () => {
      const r = await stack.api(`/api/auth/report/push/${body.id}`, { auth: NSP_AUTH });
      return r.body.ackAndroidCount === 1 ? true : undefined;
    });
  });

  test('every client event and the presence and kickout events work for v2 clients', async () => {
    const ios = v2({ uuid: 'old-ios', platform: 'ios', activityBroadcast: 'true' });
    await next(ios, 'ok');
    const peer = v2({ uuid: 'old-peer' });
    await next(peer, 'ok');
    expect(await call(peer, 'joinRoom', 'v2room')).toEqual(OK);
    const joined = next(peer, 'peopleJoin');
    expect(await call(ios, 'joinRoom', ['v2room', 'v2gone'])).toEqual(OK);
    expect(await joined).toEqual({ sid: '/demo#old-ios#ios-old-ios', uuid: 'old-ios', userid: 'old-ios', room: 'v2room' });
    expect(await call(ios, 'leaveRoom', 'v2gone')).toEqual(OK);
    expect(await redis.sismember(keys.roomMembers('/demo', 'v2gone'), '/demo#old-ios#ios-old-ios')).toBe(0);

    expect(await call(ios, 'info', { device_token: 'v2tok' })).toEqual(OK);
    expect(await call(ios, 'info', {})).toMatchObject({ ...OK, device_token: 'v2tok', platform: 'ios' });
    expect(await call(ios, 'info', { clientId: '/demo#old-peer#web-old-peer' })).toEqual({ status: 403, msg: 'Forbidden' });
    expect(await call(ios, 'apns', { add: ['v2room', 'v2other'], remove: 'v2other' })).toEqual(OK);
    expect(await call(ios, 'apns', {})).toEqual(['v2room']);
    expect(await call(peer, 'apns', {})).toEqual({ status: 403, msg: 'Forbidden' });

    const got = next(peer, 'push');
    const sent = await call(ios, 'push', { room: 'v2room', pushData: { from: 'v2' } });
    expect(sent).toEqual({ ...OK, id: expect.any(Number) });
    expect(await got).toMatchObject({ id: sent.id, namespace: '/demo', room: 'v2room', pushData: { from: 'v2' } });
    expect(await call(ios, 'push', { room: 'v2room', pushData: {} })).toEqual({ status: 500, msg: 'limited access in 1s' });
    expect(await call(ios, 'ackPush', { id: 'x' })).toEqual({ status: 400, msg: 'payload invalid' });

    // A v4 connection of the same client replaces the v2 one, whose room mates see it go.
    const kicked = next(ios, 'kickout');
    const left = next(peer, 'peopleLeave');
    const modern = await connectClient(stack.connectors[0]!.port, '/demo', { uuid: 'old-ios', platform: 'ios' });
    closers.push(() => modern.socket.close());
    expect(await kicked).toEqual({ reason: 'duplicate' });
    expect(await left).toMatchObject({ sid: '/demo#old-ios#ios-old-ios', room: 'v2room', clientOffline: true });
  });

  test('a v2 Android client gets its offline messages before ok and empties its inbox with the ack callback', async () => {
    const cid = '/demo#old-away#android-old-away';
    const first = v2({ uuid: 'old-away', platform: 'android' });
    await next(first, 'ok');
    expect(await call(first, 'joinRoom', 'v2away')).toEqual(OK);
    first.close();
    await until(async () => ((await redis.hget(keys.client(cid), 'sid')) === null ? true : undefined));
    const { body } = await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'v2away', pushData: { missed: true }, leaveMessage: true } });
    await until(async () => (await redis.hget(keys.message('/demo', body.id), 'offline')) ?? undefined, 10_000);
    expect(await redis.zrange(keys.clientInbox(cid), 0, -1)).toEqual([String(body.id)]);

    const back = v2({ uuid: 'old-away', platform: 'android' });
    const order: string[] = [];
    const replayed = new Promise<any[]>((resolve) =>
      back.once('offlineMessage', (messages: any[], ack: () => void) => {
        order.push('offlineMessage');
        ack();
        resolve(messages);
      }),
    );
    await next(back, 'ok').then(() => order.push('ok'));
    expect(order).toEqual(['offlineMessage', 'ok']);
    expect((await replayed).map((m) => m.id)).toEqual([body.id]);
    await until(async () => ((await redis.zcard(keys.clientInbox(cid))) === 0 ? true : undefined));
    // The replayed ack counts in the report like a live one (the same batch, written beside the inbox).
    const report = await until(async () => {
      const r = await stack.api(`/api/auth/report/push/${body.id}`, { auth: NSP_AUTH });
      return r.body.ackCount === 1 ? r.body : undefined;
    });
    expect(report).toMatchObject({ ackCount: 1, ackAndroidCount: 1, ackIOSCount: 0 });
  });

  test('a v2 client gets the seed’s refusal text', async () => {
    const socket = v2({ uuid: 'old2' }, '/missing');
    expect(await new Promise((resolve) => socket.once('error', resolve))).toBe('this namespace not found');
  });

  test('HERALD_ALLOW_EIO3=false refuses v2 clients and still serves v4 clients', async () => {
    const modernOnly = await stack.startConnector({ HERALD_ALLOW_EIO3: 'false' });
    const old = v2({ uuid: 'old3' }, '/demo', modernOnly.port);
    const outcome = await new Promise((resolve) => {
      old.once('ok', () => resolve('ok'));
      old.once('connect_error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
    const modern = await connectClient(modernOnly.port, '/demo', { uuid: 'new3' });
    closers.push(() => modern.socket.close());
    expect(modern.ok.clientId).toBe('/demo#new3#web-new3');
  });
});

describe('Origin allow-list (HERALD_ALLOWED_ORIGINS)', () => {
  function attempt(origin: string | undefined): Promise<string> {
    const socket = ioV4(`http://127.0.0.1:${stack.connectors[0]!.port}/demo`, {
      query: { uuid: `o-${(origin ?? 'none').replace(/\W/g, '')}` },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      ...(origin ? { extraHeaders: { origin } } : {}),
    });
    closers.push(() => socket.close());
    return new Promise((resolve) => {
      socket.once('ok', () => resolve('ok'));
      socket.once('connect_error', (e) => resolve(`refused: ${e.message}`));
    });
  }

  test('a listed origin and a client without Origin (a native app) connect; another origin is refused', async () => {
    expect(await attempt('https://good.example')).toBe('ok');
    expect(await attempt(undefined)).toBe('ok');
    expect(await attempt('https://evil.example')).toMatch(/^refused/);
  });
});

test('a frame above maxHttpBufferSize closes that socket only; the connector keeps serving', async () => {
  const big = await connectClient(stack.connectors[0]!.port, '/demo', { uuid: 'big1' });
  closers.push(() => big.socket.close());
  const closed = new Promise((resolve) => big.socket.once('disconnect', resolve));
  big.socket.emit('joinRoom', 'x'.repeat(70 * 1024));
  await closed;
  const next = await connectClient(stack.connectors[0]!.port, '/demo', { uuid: 'big2' });
  closers.push(() => next.socket.close());
  expect(await emitWithAck(next.socket, 'joinRoom', 'fine')).toEqual({ status: 200, msg: 'ok' });
});
