/**
 * NamespaceCleanup with pages far smaller than the namespace (issue 4 item 5: "whatever its size,
 * without blocking Redis (no KEYS; iterate or index)"): every page boundary is crossed many times,
 * and Redis's own command statistics show that KEYS was never called.
 */
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '@herald/test-support';
import { validatePushRequest, type Platform } from '@herald/wire';
import { ClientStore, Keys, MessageStore, NamespaceCleanup, NamespaceStore, RoomStore, Scripts } from '../src';

let server: TestRedis;
let redis: Redis;
const keys = new Keys('t:');

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});

const PLATFORM_OF: readonly Platform[] = ['web', 'android', 'ios'];

/** A namespace with `clients` clients, each online in three of `rooms` rooms, and `messages` pushes. */
async function populate(nsp: string, clients: number, rooms: number, messages: number): Promise<void> {
  const scripts = new Scripts(redis);
  const clientStore = new ClientStore(redis, keys, scripts);
  const roomStore = new RoomStore(redis, keys, scripts);
  const messageStore = new MessageStore(redis, keys, scripts);
  await new NamespaceStore(redis, keys, scripts).save(nsp, { name: nsp, offline: true });
  for (let i = 0; i < clients; i++) {
    const platform = PLATFORM_OF[i % 3]!;
    const userid = `u${i}`;
    const clientId = `${nsp}#${userid}#${platform}-x${i}`;
    await clientStore.connected(clientId, { namespace: nsp, userid, uuid: `x${i}`, platform, sid: `s${i}`, connector: 'c1' });
    for (const room of [`user_${userid}`, `r${i % rooms}`, `r${(i + 1) % rooms}`, `r${(i + 2) % rooms}`]) {
      await roomStore.join(nsp, room, { clientId, userid, platform }, 'sid-1');
      if (!room.startsWith('user_')) await clientStore.addRoom(clientId, room);
    }
  }
  for (let i = 0; i < messages; i++) await messageStore.store(nsp, validatePushRequest({ room: `r${i % rooms}`, pushData: { i } }, false));
}

/** Every key with its value (SCAN), for before/after comparisons. */
async function contents(): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  let cursor = '0';
  do {
    const [next, page] = await redis.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of page) {
      const type = await redis.type(key);
      out.set(
        key,
        type === 'hash' ? await redis.hgetall(key)
        : type === 'set' ? (await redis.smembers(key)).sort()
        : type === 'zset' ? await redis.zrange(key, 0, -1)
        : type === 'list' ? await redis.lrange(key, 0, -1)
        : await redis.get(key),
      );
    }
  } while (cursor !== '0');
  return out;
}

const owned = (nsp: string, key: string) =>
  key === keys.namespace(nsp) || key.includes(`{${nsp}}`) || key.includes(`{${nsp}|`) || key.includes(`{${nsp}#`);

test('clearData in pages of 2 deletes all of /a but its settings and id counter, nothing of /ab, and never calls KEYS', async () => {
  await populate('/ab', 5, 3, 4);
  const neighbour = await contents();
  await populate('/a', 13, 7, 11);
  const populated = [...(await contents()).keys()].filter((key) => owned('/a', key));
  expect(populated.length).toBeGreaterThan(60);
  await redis.config('RESETSTAT');

  const deleted = await new NamespaceCleanup(redis, keys, new Scripts(redis), { pageSize: 2 }).clearData('/a');

  const after = await contents();
  expect([...after.keys()].filter((key) => owned('/a', key)).sort()).toEqual([keys.namespace('/a'), keys.messageSeq('/a')].sort());
  expect(deleted).toBe(populated.length - 2);
  // The neighbour (a name /a is a prefix of) is untouched, key by key and value by value; so are the
  // shared keys, once /a's clients left the connector's client set.
  for (const [key, value] of neighbour) {
    if (key === keys.namespaceIndex()) continue; // the registry also lists /a, which a clear keeps
    expect([key, after.get(key)]).toEqual([key, value]);
  }
  expect(await redis.zrange(keys.namespaceIndex(), 0, -1)).toEqual(['/a', '/ab']);
  const stats = (await redis.info('commandstats')) as string;
  expect(stats).not.toMatch(/^cmdstat_keys:/m);
  expect(stats).toMatch(/^cmdstat_scan:/m);
});
