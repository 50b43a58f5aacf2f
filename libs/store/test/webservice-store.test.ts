/**
 * The webservice device queues (libs/store/lua/webservice-*.lua) on a real Redis: expansion,
 * ordering, exact acks, resync, the `_batch` race, pruning by device_ttl and "connected" kept right.
 */
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Keys, WebserviceStore, type WebserviceSend } from '../src';

let server: TestRedis;
let redis: Redis;
let store: WebserviceStore;
const NS = '/site';
const SETTINGS = { userRoomPrefix: 'user_', publicChannel: 'browse', deviceTtl: 60 };

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  store = new WebserviceStore(redis, new Keys('t:'));
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});
beforeEach(() => redis.flushall());

const payloads = async (device: string) => (await store.pending(NS, device)).map((e) => e.payload);
const send = (rooms: string[], payload: unknown[], extra: Partial<Omit<WebserviceSend, 'rooms' | 'payload'>> = {}) =>
  store.send(NS, { rooms, payload, ...SETTINGS, ...extra });

test('a shared room expands case-insensitively to the user rooms that have it; unknown users get nothing', async () => {
  await store.connect(NS, 'user_1', 'd1', 's1', ['user_1', 'Staff']);
  await store.connect(NS, 'user_2', 'd2', 's2', ['user_2', 'staff', 'admins']);
  const stored = await send(['STAFF', 'user_9'], ['ev', 1]);
  expect([...stored.devices].sort()).toEqual(['user_1|d1', 'user_2|d2']);
  expect(await payloads('user_1|d1')).toEqual([['ev', 1]]);
  expect((await send(['admins'], ['ev', 2])).devices).toEqual(['user_2|d2']);
  // A user's rooms are replaced at its next connect: user_2 left `admins`.
  await store.connect(NS, 'user_2', 'd2', 's3', ['user_2']);
  expect((await send(['admins'], ['ev', 3])).devices).toEqual([]);
  expect((await send(['staff'], ['ev', 4])).devices).toEqual(['user_1|d1']);
});

test('entries keep the stored order across events; an ack removes exactly its entry; a second ack changes nothing', async () => {
  await store.connect(NS, 'user_1', 'd', 's', ['user_1']);
  const ids = [];
  for (const [event, n] of [['a', 1], ['b', 2], ['a', 3]] as const) ids.push((await send(['user_1'], [event, n])).id);
  expect(ids).toEqual([...ids].sort((x, y) => x - y));
  expect(await payloads('user_1|d')).toEqual([['a', 1], ['b', 2], ['a', 3]]);
  expect(await store.ack(NS, 'user_1|d', ids[1]!, false, 'b')).toBe('ok');
  expect(await store.ack(NS, 'user_1|d', ids[1]!, false, 'b')).toBe('gone');
  expect(await payloads('user_1|d')).toEqual([['a', 1], ['a', 3]]);
});

test('resync: the head of its event is removed; an ack past the head drops that event only', async () => {
  await store.connect(NS, 'user_1', 'd', 's', ['user_1']);
  const a1 = (await send(['user_1'], ['a', 1])).id;
  const b1 = (await send(['user_1'], ['b', 1])).id;
  const a2 = (await send(['user_1'], ['a', 2])).id;
  // b1 is the head of event b even though a1 is older.
  expect(await store.ack(NS, 'user_1|d', b1, true, 'b')).toBe('ok');
  expect(await store.ack(NS, 'user_1|d', a2, true, 'a')).toBe('resync');
  expect(await payloads('user_1|d')).toEqual([]);
  const a3 = (await send(['user_1'], ['a', 3])).id;
  const c1 = (await send(['user_1'], ['c', 1])).id;
  expect(await store.ack(NS, 'user_1|d', a1, true, 'a')).toBe('gone');
  expect(await store.ack(NS, 'user_1|d', a3, true, 'a')).toBe('ok');
  expect(await store.ack(NS, 'user_1|d', c1, true, 'c')).toBe('ok');
});

test('connect returns the queue; the batch ack removes exactly the entries it carried', async () => {
  await store.connect(NS, 'user_1', 'd', 's1', ['user_1']);
  await send(['user_1'], ['a', 1]);
  await send(['user_1'], ['a', 2]);
  const batch = await store.connect(NS, 'user_1', 'd', 's2', ['user_1']);
  expect(batch.map((e) => e.payload)).toEqual([['a', 1], ['a', 2]]);
  await send(['user_1'], ['a', 3]);
  expect(await store.batchAck(NS, 'user_1|d', batch.map((e) => e.id))).toBe(2);
  expect(await payloads('user_1|d')).toEqual([['a', 3]]);
});

test('device_ttl: a device disconnected longer is pruned (and its user forgotten); a reconnected one is kept; 0 never prunes', async () => {
  const t0 = 1_000_000;
  await store.connect(NS, 'user_1', 'gone', 's1', ['user_1', 'staff']);
  await store.connect(NS, 'user_2', 'back', 's2', ['user_2', 'staff']);
  expect(await store.disconnect(NS, 'user_1', 'gone', 's1', 60, t0)).toBe(true);
  expect(await store.disconnect(NS, 'user_2', 'back', 's2', 60, t0)).toBe(true);
  await store.connect(NS, 'user_2', 'back', 's3', ['user_2', 'staff']);
  // A late clean-up of an older connection does not mark the device disconnected.
  expect(await store.disconnect(NS, 'user_2', 'back', 's2', 60, t0)).toBe(false);
  expect(await store.devices(NS, 'user_2')).toEqual({ back: { connected: true } });
  // Within the ttl the disconnected device still gets it.
  expect([...(await send(["staff"], ["a", 1], { now: t0 + 59_000 })).devices].sort()).toEqual(['user_1|gone', 'user_2|back']);
  const later = await send(['staff'], ['a', 2], { now: t0 + 61_000 });
  expect(later.devices).toEqual(['user_2|back']);
  expect(await store.devices(NS, 'user_1')).toEqual({});
  expect(await payloads('user_1|gone')).toEqual([]);
  expect(await redis.sismember(`${store.base(NS)}room:staff`, 'user_1')).toBe(0);
  // device_ttl 0: never pruned, no expiry.
  await store.connect(NS, 'user_3', 'f', 's4', ['user_3']);
  await store.disconnect(NS, 'user_3', 'f', 's4', 0, t0);
  expect((await send(['user_3'], ['a', 3], { now: t0 + 10 ** 9, deviceTtl: 0 })).devices).toEqual(['user_3|f']);
  expect(await redis.pttl(`${store.base(NS)}q:user_3|f`)).toBe(-1);
});

test('a disconnected device\'s queue expires with the device; connecting again keeps it for good', async () => {
  await store.connect(NS, 'user_1', 'd', 's1', ['user_1']);
  await send(['user_1'], ['a', 1]);
  await store.disconnect(NS, 'user_1', 'd', 's1', 60);
  expect(await redis.pttl(`${store.base(NS)}q:user_1|d`)).toBeGreaterThan(50_000);
  await store.connect(NS, 'user_1', 'd', 's2', ['user_1']);
  expect(await redis.pttl(`${store.base(NS)}q:user_1|d`)).toBe(-1);
});

test('the public channel is a device room of its own', async () => {
  await store.connect(NS, 'browse', 'g', 's', ['browse']);
  expect((await send(['browse'], ['offer', 1])).devices).toEqual(['browse|g']);
});

test('on a single Redis the script announces what it stored, in id order, with the id and the devices; nothing when no device got it', async () => {
  const sub = redis.duplicate();
  const heard: string[] = [];
  try {
    await sub.subscribe('announce');
    sub.on('message', (_channel, message: string) => heard.push(message));
    await store.connect(NS, 'user_1', 'd', 's', ['user_1']);
    const announce = { channel: 'announce', head: '{"x":1,"delivery":{', tail: ',"event":"ev"}}' };
    const first = await send(['user_1'], ['ev', 1], { announce });
    const second = await send(['user_1'], ['ev', 2], { announce });
    await send(['user_9'], ['ev', 3], { announce });
    const until = Date.now() + 2000;
    while (heard.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(heard.map((m) => JSON.parse(m))).toEqual([
      { x: 1, delivery: { id: first.id, devices: ['user_1|d'], event: 'ev' } },
      { x: 1, delivery: { id: second.id, devices: ['user_1|d'], event: 'ev' } },
    ]);
  } finally {
    sub.disconnect();
  }
});

test('a dead connector\'s anonymous connections: each device it still holds is disconnected, a device taken over is not, and the list goes', async () => {
  // Connector C1 holds two devices through anonymous sockets; a newer connection took user_2's over.
  await store.holdAnonymous(NS, 'C1', 'user_1', '', 's1');
  await store.connect(NS, 'user_1', '', 's1', ['user_1']);
  await store.holdAnonymous(NS, 'C1', 'user_2', '', 's2');
  await store.connect(NS, 'user_2', '', 's2', ['user_2']);
  await store.connect(NS, 'user_2', '', 's3', ['user_2']);
  // A connection of C1 that ended normally is no longer listed.
  await store.holdAnonymous(NS, 'C1', 'user_3', 'tab', 's4');
  await store.connect(NS, 'user_3', 'tab', 's4', ['user_3']);
  await store.disconnect(NS, 'user_3', 'tab', 's4', 60, 1000);
  await store.releaseAnonymous(NS, 'C1', 'user_3', 'tab', 's4');
  // Another connector's list is not touched.
  await store.holdAnonymous(NS, 'C2', 'user_4', '', 's5');

  expect(await store.reapAnonymous(NS, 'C1', 60, 5000)).toBe(1);
  expect(await store.devices(NS, 'user_1')).toEqual({ '': { connected: false, disconnectedAt: 5000 } });
  expect(await store.devices(NS, 'user_2')).toEqual({ '': { connected: true } });
  expect(await store.devices(NS, 'user_3')).toEqual({ tab: { connected: false, disconnectedAt: 1000 } });
  expect(await redis.exists(`${store.base(NS)}anon:C1`)).toBe(0);
  expect(await redis.smembers(`${store.base(NS)}anon:C2`)).toEqual([JSON.stringify(['user_4', '', 's5'])]);
  // A second reaper (the first died half-way) finds nothing left to do.
  expect(await store.reapAnonymous(NS, 'C1', 60, 6000)).toBe(0);
  expect(await store.devices(NS, 'user_1')).toEqual({ '': { connected: false, disconnectedAt: 5000 } });
});
