/**
 * Clients of the seed era (socket.io v2, Engine.IO 3) beside v4 clients, the Origin allow-list and
 * the socket payload limit (issue 3, items 10 and 11).
 */
import { io as ioV4 } from 'socket.io-client';
import { until } from '@herald/test-support';
import { basic, connectClient, emitWithAck } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';
// socket.io-client@2, installed under an alias beside v4.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, opts: object) => any = require('socket.io-client-v2');

let stack: Stack;
const closers: (() => void)[] = [];
const NSP_AUTH = basic('/demo', 'pw');

beforeAll(async () => {
  stack = await startStack({ connectors: 1, env: { HERALD_ALLOWED_ORIGINS: 'https://good.example' } });
  await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/demo', auth_passwd: 'pw' } });
});
afterAll(async () => {
  for (const close of closers) close();
  await stack.stop();
});

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
