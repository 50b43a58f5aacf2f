import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';
import { Keys, NamespaceStore } from '@herald/store';
import { startRedis, until, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { buildConnector } from '../src/connector';
import { seedOfflineDelayBound } from '../src/core/namespace-watch';

let server: TestRedis;
let redis: Redis;
let connector: ReturnType<typeof buildConnector>;
let port: number;
const keys = new Keys('h:');
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  const namespaces = new NamespaceStore(redis, keys);
  await namespaces.save('/demo', { password: 'pw' });
  await namespaces.save('/closed', { offline: true });
  const config = loadConfig('connector', { HERALD_REDIS_URL: server.url, HERALD_CONNECTOR_PORT: '0' });
  connector = buildConnector(config, createLogger('connector', 'silent'));
  port = (await connector.start())!;
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await connector.close();
  await redis.quit();
  await server.stop();
});

function open(namespace: string, query: Record<string, string>): Socket {
  const socket = connect(`http://127.0.0.1:${port}${namespace}`, { query, transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  return socket;
}

function refusal(namespace: string, query: Record<string, string>): Promise<{ message: string; data: unknown }> {
  const socket = open(namespace, query);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected')));
    socket.once('connect_error', (e: Error & { data?: unknown }) => resolve({ message: e.message, data: e.data }));
  });
}

function ok(namespace: string, query: Record<string, string>): Promise<{ socket: Socket; clientId: string }> {
  const socket = open(namespace, query);
  return new Promise((resolve, reject) => {
    socket.once('ok', (payload: { clientId: string }) => resolve({ socket, clientId: payload.clientId }));
    socket.once('connect_error', reject);
  });
}

function ack(socket: Socket, event: string, payload: unknown): Promise<unknown> {
  return new Promise((resolve) => socket.emit(event, payload, resolve));
}

describe('handshake: the seed’s checks, in its order, with its messages', () => {
  test.each([
    ['/nope', { uuid: 'u1' }, 'this namespace not found', 'HS_NAMESPACE_NOT_FOUND'],
    ['/nope', { userid: 'a:b' }, 'this namespace not found', 'HS_NAMESPACE_NOT_FOUND'],
    ['/closed', { uuid: '' }, 'this namespace offline', 'HS_NAMESPACE_OFFLINE'],
    ['/demo', {}, 'uuid invalid', 'HS_UUID_INVALID'],
    ['/demo', { uuid: 'a b' }, 'uuid invalid', 'HS_UUID_INVALID'],
    ['/demo', { uuid: 'x'.repeat(101) }, 'uuid invalid', 'HS_UUID_INVALID'],
    ['/demo', { uuid: 'a b', userid: 'a:b', platform: 'nokia' }, 'uuid invalid', 'HS_UUID_INVALID'],
    ['/demo', { uuid: 'u1', userid: 'x'.repeat(101) }, 'userid invalid', 'HS_USERID_INVALID'],
    ['/demo', { uuid: 'u1', userid: 'a:b', platform: 'nokia' }, 'userid invalid', 'HS_USERID_INVALID'],
    ['/demo', { uuid: 'u1', platform: 'nokia' }, 'platform invalid', 'HS_PLATFORM_INVALID'],
    ['/demo', { uuid: 'u1', activityBroadcast: 'maybe' }, 'activityBroadcast invalid', 'HS_ACTIVITY_BROADCAST_INVALID'],
  ])('%s %j → %s', async (namespace, query, message, code) => {
    expect(await refusal(namespace, query)).toEqual({ message, data: { code } });
  });

  test('refused handshakes leave no namespace behind', async () => {
    for (let i = 0; i < 20; i++) await refusal(`/ghost${i}`, { uuid: 'u' });
    expect([...connector.io._nsps.keys()].filter((name) => name.startsWith('/ghost'))).toEqual([]);
  });

  test('userid defaults to uuid and platform to web', async () => {
    const { clientId } = await ok('/demo', { uuid: 'solo' });
    expect(clientId).toBe('/demo#solo#web-solo');
    expect(await redis.smembers(keys.roomOnline('/demo', 'user_solo'))).toEqual(['/demo#solo#web-solo']);
  });
});

describe('rooms', () => {
  test('joinRoom and leaveRoom keep Redis in step; disconnect keeps membership for offline delivery', async () => {
    const { socket, clientId } = await ok('/demo', { uuid: 'd1', userid: 'dev', platform: 'ios' });
    expect(await ack(socket, 'joinRoom', ['r1', 'r2'])).toEqual({ status: 200, msg: 'ok' });
    expect(await redis.smembers(keys.roomOnlineBy('/demo', 'r1', 'ios'))).toEqual([clientId]);
    expect(await redis.smembers(keys.roomMembersBy('/demo', 'r2', 'ios'))).toEqual([clientId]);
    expect(await redis.scard(keys.roomOnlineBy('/demo', 'r1', 'android'))).toBe(0);
    expect(await ack(socket, 'leaveRoom', 'r2')).toEqual({ status: 200, msg: 'ok' });
    // Leaving ends the membership too, on every set of the room (the seed kept leavers: a bug).
    for (const key of [keys.roomOnline('/demo', 'r2'), keys.roomOnlineBy('/demo', 'r2', 'ios'), keys.roomMembers('/demo', 'r2'), keys.roomMembersBy('/demo', 'r2', 'ios')]) {
      expect(await redis.scard(key)).toBe(0);
    }
    socket.close();
    await until(async () => ((await redis.scard(keys.roomOnline('/demo', 'r1'))) === 0 ? true : undefined));
    expect(await redis.scard(keys.roomOnlineBy('/demo', 'r1', 'ios'))).toBe(0);
    expect(await redis.smembers(keys.roomMembers('/demo', 'r1'))).toEqual([clientId]);
    expect(await redis.smembers(keys.roomMembersBy('/demo', 'r1', 'ios'))).toEqual([clientId]);
    expect(await redis.scard(keys.roomOnline('/demo', 'user_dev'))).toBe(0);
  });

  test.each([
    [['ok', 'a b']],
    [''],
    [[]],
    [42],
    [{ room: 'r1' }],
    [['user_someone-else']],
  ])('joinRoom %j → room invalid, nothing joined', async (payload) => {
    const { socket, clientId } = await ok('/demo', { uuid: 'bad1', userid: 'bad' });
    expect(await ack(socket, 'joinRoom', payload)).toEqual({ status: 500, msg: 'joinOrleaveRoom error: Error: room invalid' });
    const online = await redis.keys('h:{/demo|*}:on');
    for (const key of online) {
      if (key !== keys.roomOnline('/demo', 'user_bad')) expect(await redis.sismember(key, clientId)).toBe(0);
    }
    socket.close();
  });

  test('a client cannot leave its own user room', async () => {
    const { socket } = await ok('/demo', { uuid: 'me1', userid: 'me' });
    expect(await ack(socket, 'leaveRoom', 'user_me')).toEqual({ status: 500, msg: 'joinOrleaveRoom error: Error: room invalid' });
    socket.close();
  });
});

test('ackPush with a bad payload gets an error ack and the socket stays usable', async () => {
  const { socket } = await ok('/demo', { uuid: 'ack1' });
  expect(await ack(socket, 'ackPush', { id: 'x' })).toEqual({ status: 400, msg: 'payload invalid' });
  expect(await ack(socket, 'ackPush', { id: 1, more: true })).toEqual({ status: 400, msg: 'payload invalid' });
  expect(await ack(socket, 'joinRoom', 'r9')).toEqual({ status: 200, msg: 'ok' });
  socket.close();
});

test('GET /health answers hello; other plain paths are 404', async () => {
  expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('hello');
  expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
});

test('a namespace switched offline drops its sockets within the seed bound min(5 s + 100 ms × connected, 5 min) when none is configured', () => {
  expect(seedOfflineDelayBound(0)).toBe(5000);
  expect(seedOfflineDelayBound(120)).toBe(17_000);
  expect(seedOfflineDelayBound(2950)).toBe(300_000);
  expect(seedOfflineDelayBound(100_000)).toBe(300_000);
});
