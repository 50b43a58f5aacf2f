import { ClientStore, Keys, RoomStore, Scripts } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from './support/test-app';
import { AUTH_FAILURE_LIMIT } from '../src/plugins/auth';
import { buildApp } from '../src/app';
import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';

let testApp: TestApp;
let app: FastifyInstance;
let redis: Redis;
const keys = new Keys('h:');
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const ADMIN_PASSWORD = 'admin-password-for-tests';
const admin = basic('admin', ADMIN_PASSWORD);
const demo = basic('/demo', 'pw');
const other = basic('/other', 'pw');

async function call(method: 'GET' | 'POST', url: string, auth: string, payload?: unknown) {
  const response = await app.inject({ method, url, headers: { authorization: auth }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: response.statusCode, body: response.json() };
}

/** Puts a client online in rooms the way a connector does. */
async function online(namespace: string, userid: string, platform: 'web' | 'ios' | 'android', uuid: string, rooms: string[]) {
  const scripts = new Scripts(redis);
  const clients = new ClientStore(redis, keys, scripts);
  const roomStore = new RoomStore(redis, keys, scripts);
  const clientId = `${namespace}#${userid}#${platform}-${uuid}`;
  await clients.connected(clientId, { namespace, userid, uuid, platform, sid: `sid-${uuid}`, connector: 'test' });
  for (const room of [`user_${userid}`, ...rooms]) {
    await roomStore.join(namespace, room, { clientId, userid, platform }, 'sid-1');
    if (!room.startsWith('user_')) await clients.addRoom(clientId, room);
  }
  return clientId;
}

beforeAll(async () => {
  testApp = await startTestApp(ADMIN_PASSWORD);
  ({ app, redis } = testApp);
  for (const key of ['/demo', '/other']) await call('POST', '/api/admin/namespace/save', admin, { key, auth_passwd: 'pw' });
});
afterAll(async () => {
  await testApp.close();
});

describe('push history and stats', () => {
  test('GET /api/auth/report/push pages the history newest first; size is bounded', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call('POST', '/api/auth/push', demo, { room: 'h', pushData: { i } })).body.id);
    const first = await call('GET', '/api/auth/report/push?page=1&size=2', demo);
    expect(first.body.map((r: { id: number }) => r.id)).toEqual([ids[4], ids[3]]);
    const third = await call('GET', '/api/auth/report/push?page=3&size=2', demo);
    expect(third.body.map((r: { id: number }) => r.id)).toEqual([ids[0]]);
    expect(third.body[0]).toMatchObject({ pushData: { i: 0 }, ackCount: 0 });
    // The other namespace has its own history.
    expect((await call('GET', '/api/auth/report/push', other)).body).toEqual([]);
    expect(await call('GET', '/api/auth/report/push?size=501', demo)).toEqual({
      status: 400,
      body: { code: 'QUERY_INVALID', msg: 'request query invalid: size must be an integer from 1 to 500' },
    });
    expect((await call('GET', '/api/auth/report/push?page=0', demo)).status).toBe(400);
  });

  test('a report of another namespace’s id is "this id not exists"', async () => {
    const { id } = (await call('POST', '/api/auth/push', demo, { room: 'h', pushData: {} })).body;
    expect((await call('GET', `/api/auth/report/push/${id}`, demo)).status).toBe(200);
    const mine = (await call('GET', '/api/auth/report/push?size=1', other)).body;
    expect(mine).toEqual([]);
    expect((await call('GET', `/api/auth/report/push/${id + 1000}`, other)).body.code).toBe('ID_NOT_EXISTS');
  });

  test('current-message-stat counts this minute, hour and day', async () => {
    const before = (await call('GET', '/api/auth/namespace/current-message-stat', other)).body;
    await call('POST', '/api/auth/push', other, { room: 's', pushData: {} });
    await call('POST', '/api/auth/push', other, { room: 's', pushData: {} });
    const after = (await call('GET', '/api/auth/namespace/current-message-stat', other)).body;
    expect(after.currDateMessageCount - before.currDateMessageCount).toBe(2);
    expect(after.currHourMessageCount).toBeGreaterThanOrEqual(2);
    expect(after.currMinuteMessageCount).toBeGreaterThanOrEqual(1);
  });
});

describe('online report', () => {
  beforeAll(async () => {
    await online('/demo', 'alice', 'ios', 'a1', ['lobby']);
    await online('/demo', 'alice', 'android', 'a2', ['lobby']);
    await online('/demo', 'bob', 'web', 'b1', ['lobby', 'side']);
  });

  test('per room: online and member counts per platform, lists with detail', async () => {
    const { body } = await call('GET', '/api/auth/report/online?room=lobby&room=side&detail=true', demo);
    expect(body).toEqual([
      {
        name: 'lobby',
        userCount: 2,
        clientCount: 3,
        totalClientCount: 3,
        iosClientCount: 1,
        totalIOSClientCount: 1,
        androidClientCount: 1,
        totalAndroidClientCount: 1,
        webClientCount: 1,
        totalWebClientCount: 1,
        client: ['/demo#alice#android-a2', '/demo#alice#ios-a1', '/demo#bob#web-b1'],
        user: ['alice', 'bob'],
      },
      expect.objectContaining({ name: 'side', userCount: 1, clientCount: 1, client: ['/demo#bob#web-b1'], user: ['bob'] }),
    ]);
  });

  test('per namespace, and over all namespaces for the admin', async () => {
    expect((await call('GET', '/api/auth/report/online', demo)).body).toEqual({ roomCount: 2, userCount: 2, clientCount: 3, totalClientCount: 3 });
    expect((await call('GET', '/api/auth/report/online?detail=1', demo)).body).toMatchObject({ room: ['lobby', 'side'], user: ['alice', 'bob'] });
    expect((await call('GET', '/api/admin/report/online', admin)).body).toEqual({ roomCount: 2, userCount: 2, clientCount: 3 });
    expect((await call('GET', '/api/admin/report/online?namespace=/other', admin)).body).toMatchObject({ clientCount: 0 });
    expect((await call('GET', '/api/admin/report/online?namespace=/nope', admin)).body.code).toBe('NAMESPACE_NOT_FOUND');
    expect((await call('GET', '/api/auth/report/online?room=a%20b', demo)).body.code).toBe('ROOM_INVALID');
  });
});

describe('rooms and clients', () => {
  test('transfer: validation in the seed’s words', async () => {
    const t = (body: unknown) => call('POST', '/api/auth/transfer', demo, body);
    expect((await t({ targetRoom: 'x', type: 'join' })).body.msg).toBe('targetRoom and sourceRooms and type and namespace can not be empty');
    expect((await t({ sourceRooms: ['a'], targetRoom: 'a b', type: 'join' })).body.msg).toBe('targetRoom invalid');
    expect((await t({ sourceRooms: ['a', 'b c'], targetRoom: 'x', type: 'join' })).body.msg).toBe('sourceRoom invalid');
    expect((await t({ sourceRooms: ['a'], targetRoom: 'x', type: 'move' })).body.msg).toBe('type must be join or leave');
    expect((await t({ sourceRooms: ['a'], targetRoom: 'user_bob', type: 'join' })).body.msg).toBe('targetRoom invalid');
  });

  test('transfer moves every member, offline ones included, and back', async () => {
    const offlineMember = await online('/demo', 'carol', 'android', 'c1', ['src']);
    await redis.srem(keys.roomOnline('/demo', 'src'), offlineMember);
    expect(await call('POST', '/api/auth/transfer', demo, { sourceRooms: ['src', 'side'], targetRoom: 'dst', type: 'join' })).toEqual({ status: 200, body: {} });
    expect((await redis.smembers(keys.roomMembers('/demo', 'dst'))).sort()).toEqual(['/demo#bob#web-b1', offlineMember]);
    expect(await redis.smembers(keys.roomMembersBy('/demo', 'dst', 'android'))).toEqual([offlineMember]);
    expect(await redis.sismember(keys.clientRooms(offlineMember), 'dst')).toBe(1);
    await call('POST', '/api/auth/transfer', demo, { sourceRooms: ['src'], targetRoom: 'dst', type: 'leave' });
    expect(await redis.smembers(keys.roomMembers('/demo', 'dst'))).toEqual(['/demo#bob#web-b1']);
    expect(await redis.sismember(keys.clientRooms(offlineMember), 'dst')).toBe(0);
  });

  test('room-leave-message and room-apns apply to every member; an empty room is "can not find room"', async () => {
    expect(await call('POST', '/api/auth/room-leave-message', demo, { room: 'lobby', leaveMessage: false })).toEqual({ status: 200, body: {} });
    expect(await redis.hget(keys.client('/demo#alice#ios-a1'), 'leaveMessage')).toBe('false');
    expect(await redis.hget(keys.client('/demo#bob#web-b1'), 'leaveMessage')).toBe('false');
    expect((await call('POST', '/api/auth/room-leave-message', demo, { room: 'lobby', leaveMessage: 'maybe' })).body.code).toBe('LEAVE_MESSAGE_INVALID');
    expect(await call('POST', '/api/auth/room-apns', demo, { room: 'lobby', add: ['r10', 'r2'], remove: ['r2'] })).toEqual({ status: 200, body: {} });
    expect(await redis.smembers(keys.clientMuted('/demo#alice#ios-a1'))).toEqual(['r10']);
    expect(await call('POST', '/api/auth/room-apns', demo, { room: 'empty', add: ['x'] })).toEqual({
      status: 400,
      body: { code: 'ROOM_NOT_FOUND', msg: 'can not find room' },
    });
  });

  test('a namespace reads and sets only its own clients', async () => {
    const id = '/demo#alice#ios-a1';
    const read = await call('GET', `/api/auth/client/${encodeURIComponent(id)}`, demo);
    expect(read.body).toMatchObject({ userid: 'alice', platform: 'ios' });
    expect(read.body).not.toHaveProperty('sid');
    expect(await call('POST', '/api/auth/client', demo, { id, device_token: 'abc', mobile: '123' })).toEqual({ status: 200, body: {} });
    expect((await call('POST', '/api/auth/client', demo, { id })).body).toMatchObject({ device_token: 'abc', mobile: '123' });
    expect(await call('GET', `/api/auth/client/${encodeURIComponent(id)}`, other)).toEqual({
      status: 400,
      body: { code: 'CLIENT_NOT_FOUND', msg: 'client not found' },
    });
    expect((await call('POST', '/api/auth/client', other, { id, device_token: 'stolen' })).body.code).toBe('CLIENT_NOT_FOUND');
    expect(await redis.hget(keys.client(id), 'device_token')).toBe('abc');
    expect((await call('POST', '/api/auth/client', demo, { id, colour: 'x' })).body.code).toBe('UNKNOWN_FIELD');
  });
});

test('failed authentications are rate-limited per address, not for other addresses', async () => {
  const attempt = (remoteAddress: string, auth: string) =>
    app.inject({ method: 'GET', url: '/api/auth/report/push', headers: { authorization: auth }, remoteAddress });
  for (let i = 0; i < AUTH_FAILURE_LIMIT; i++) expect((await attempt('10.9.9.9', basic('/demo', 'wrong'))).statusCode).toBe(401);
  const limited = await attempt('10.9.9.9', basic('/demo', 'pw'));
  expect(limited.statusCode).toBe(429);
  expect(limited.json()).toEqual({ code: 'TOO_MANY_ATTEMPTS', msg: 'too many failed attempts, retry later' });
  expect((await attempt('10.9.9.8', basic('/demo', 'pw'))).statusCode).toBe(200);
  expect(await redis.ttl(keys.authFailures('10.9.9.9'))).toBeGreaterThan(0);
});

test('the failure count is shared: another logic app on the same Redis refuses that address too', async () => {
  const config = loadConfig('logic', { HERALD_REDIS_URL: testApp.server.url, HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD, HERALD_LOG_LEVEL: 'silent' });
  const second = buildApp(config, createLogger('logic', 'silent'));
  await second.ready();
  try {
    const attempt = (target: FastifyInstance, remoteAddress: string, auth: string) =>
      target.inject({ method: 'POST', url: '/api/auth/login', headers: { authorization: auth }, remoteAddress });
    for (let i = 0; i < AUTH_FAILURE_LIMIT; i++) expect((await attempt(app, '10.7.7.7', basic('/demo', 'wrong'))).statusCode).toBe(401);
    expect((await attempt(second, '10.7.7.7', basic('/demo', 'pw'))).statusCode).toBe(429);
    expect((await attempt(second, '10.7.7.6', basic('/demo', 'pw'))).statusCode).toBe(200);
  } finally {
    await second.close();
  }
});
