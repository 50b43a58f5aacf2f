import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '@herald/test-support';
import { validatePushRequest } from '@herald/protocol';
import { HISTORY_LENGTH, Keys, MessageStore, NamespaceStore, RoomStore, Scripts, verifyPassword } from '../src';
const slot: (key: string) => number = require('cluster-key-slot');

let server: TestRedis;
let redis: Redis;
const keys = new Keys('t:');
let scripts: Scripts;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  scripts = new Scripts(redis);
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});
beforeEach(() => redis.flushall());

const push = (room: string, extra: Record<string, unknown> = {}) => validatePushRequest({ room, pushData: { n: 1 }, ...extra }, false);

describe('push-store', () => {
  test('stores the message and its zeroed report, with increasing ids and the message TTL', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const first = await messages.store('/demo', push('r1', { expire: 2 }));
    const second = await messages.store('/demo', push('r1'));
    expect(second.id).toBe(first.id + 1);
    const report = await messages.report('/demo', first.id);
    expect(report).toMatchObject({ id: first.id, room: 'r1', pushData: { n: 1 }, expire: 2, ackCount: 0, onlineClientCount: 0 });
    const ttl = await redis.ttl(keys.message('/demo', first.id));
    expect(ttl).toBeGreaterThan(7190);
    expect(ttl).toBeLessThanOrEqual(7200);
    expect(await redis.lrange(keys.history('/demo'), 0, -1)).toEqual([String(second.id), String(first.id)]);
  });

  test('the history keeps the newest 1000 ids', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    let last = 0;
    for (let i = 0; i < HISTORY_LENGTH + 5; i++) last = (await messages.store('/demo', push('r1'))).id;
    const history = await redis.lrange(keys.history('/demo'), 0, -1);
    expect(history).toHaveLength(HISTORY_LENGTH);
    expect(history[0]).toBe(String(last));
  });

  test('unknown ids have no report', async () => {
    expect(await new MessageStore(redis, keys, scripts).report('/demo', 42)).toBeNull();
  });
});

describe('report-apply', () => {
  test('each client’s ack counts once, per platform; web counts in ackCount only', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const { id } = await messages.store('/demo', push('r1'));
    const ack = (platform: 'web' | 'ios' | 'android', _cid: string) => [keys.message('/demo', id), keys.acks('/demo', id, platform)];
    const applied = await scripts.reportApply(
      [...ack('ios', 'c1'), ...ack('ios', 'c1'), ...ack('android', 'c2'), ...ack('web', 'c3'), keys.message('/demo', id), keys.message('/demo', id)],
      ['a', 'c1', 'ios', 'a', 'c1', 'ios', 'a', 'c2', 'android', 'a', 'c3', 'web', 'o', 3, ''],
    );
    expect(applied).toBe(4);
    expect(await messages.report('/demo', id)).toMatchObject({ ackCount: 3, ackIOSCount: 1, ackAndroidCount: 1, onlineClientCount: 3 });
    const detail = await messages.ackDetail('/demo', id, 1000);
    expect(detail).toEqual({
      web: { ids: ['c3'], truncated: false },
      android: { ids: ['c2'], truncated: false },
      ios: { ids: ['c1'], truncated: false },
    });
    // The ack sets expire with the message.
    expect(await redis.pttl(keys.acks('/demo', id, 'ios'))).toBeGreaterThan(0);
  });

  test('updates for unknown or expired messages change nothing and create no key', async () => {
    const applied = await scripts.reportApply(
      [keys.message('/demo', 9), keys.acks('/demo', 9, 'web'), keys.message('/demo', 9), keys.message('/demo', 9)],
      ['a', 'c1', 'web', 'o', 2, ''],
    );
    expect(applied).toBe(0);
    expect(await redis.dbsize()).toBe(0);
  });
});

describe('rooms', () => {
  test('join, offline and leave keep online and member sets apart, and online users per room', async () => {
    const rooms = new RoomStore(redis, keys, scripts);
    const c1 = { clientId: 'c1', userid: 'u', platform: 'ios' as const };
    const c2 = { clientId: 'c2', userid: 'u', platform: 'web' as const };
    await rooms.join('/demo', 'r1', c1);
    await rooms.join('/demo', 'r1', c2);
    await rooms.join('/demo', 'r1', c2);
    expect(await redis.hgetall(keys.roomOnlineUsers('/demo', 'r1'))).toEqual({ u: '2' });
    expect(await redis.smembers(keys.namespaceRooms('/demo'))).toEqual(['r1']);
    expect(await rooms.expectedAcks('/demo', 'r1', undefined)).toBe(2);
    expect(await rooms.expectedAcks('/demo', 'r1', 'c2')).toBe(1);
    expect(await rooms.expectedAcks('/demo', 'r1', 'nobody')).toBe(2);
    await rooms.offline('/demo', 'r1', c1);
    await rooms.offline('/demo', 'r1', c1);
    expect(await redis.hgetall(keys.roomOnlineUsers('/demo', 'r1'))).toEqual({ u: '1' });
    expect(await redis.smembers(keys.roomOnline('/demo', 'r1'))).toEqual(['c2']);
    expect(await redis.smembers(keys.roomMembersBy('/demo', 'r1', 'ios'))).toEqual(['c1']);
    await rooms.leave('/demo', 'r1', c2);
    expect(await redis.smembers(keys.roomMembers('/demo', 'r1'))).toEqual(['c1']);
    expect(await redis.scard(keys.roomOnline('/demo', 'r1'))).toBe(0);
    expect(await redis.exists(keys.roomOnlineUsers('/demo', 'r1'))).toBe(0);
  });
});

test('keys a script touches together hash to one cluster slot', () => {
  const messageKeys = [keys.messageSeq('/a'), keys.history('/a'), keys.message('/a', 1), keys.acks('/a', 1, 'ios')];
  expect(new Set(messageKeys.map(slot)).size).toBe(1);
  const roomKeys = [keys.roomOnline('/a', 'r'), keys.roomOnlineBy('/a', 'r', 'web'), keys.roomMembers('/a', 'r'), keys.roomMembersBy('/a', 'r', 'web'), keys.roomOnlineUsers('/a', 'r')];
  const clientKeys = [keys.client('/a#u#web-x'), keys.clientRooms('/a#u#web-x'), keys.clientMuted('/a#u#web-x')];
  expect(new Set(clientKeys.map(slot)).size).toBe(1);
  const presenceKeys = [keys.namespaceOnline('/a'), keys.namespaceOnlineUsers('/a'), keys.namespaceClients('/a'), keys.statPrefix('/a') + 'm:1'];
  expect(new Set([...presenceKeys, ...messageKeys].map(slot)).size).toBe(1);
  expect(new Set(roomKeys.map(slot)).size).toBe(1);
});

test('namespace passwords are stored as salted scrypt hashes, never in clear', async () => {
  const namespaces = new NamespaceStore(redis, keys);
  expect(await namespaces.save('/demo', { password: 'pa:ss' })).toBe(true);
  expect(await namespaces.save('/demo', { name: 'Demo' })).toBe(false);
  const stored = await redis.hgetall(keys.namespace('/demo'));
  expect(JSON.stringify(stored)).not.toContain('pa:ss');
  expect(stored).toMatchObject({ key: '/demo', name: 'Demo', offline: 'off' });
  const record = await namespaces.get('/demo');
  expect(await verifyPassword('pa:ss', record!.passwordHash!)).toBe(true);
  expect(await verifyPassword('pa', record!.passwordHash!)).toBe(false);
  await namespaces.save('/other', { password: 'pa:ss' });
  expect((await namespaces.get('/other'))!.passwordHash).not.toBe(record!.passwordHash);
});
