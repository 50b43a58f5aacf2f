import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Keys, NamespaceCleanup, RoomsyncAccounts, RoomsyncHistory, RoomsyncKeys, RoomsyncPresence } from '../src';

/** The roomsync stores (seed 000) on a real Redis: retention, paging, presence ownership, accounts. */
let server: TestRedis;
let redis: Redis;
const keys = new Keys('rs:');
const rk = new RoomsyncKeys(keys);
let history: RoomsyncHistory;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  history = new RoomsyncHistory(redis, keys);
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});
beforeEach(() => redis.flushall());

const NS = '/r';
const retention = { maxMessages: 1000, maxAgeS: 3600 };
const entry = (data: unknown, ts = Date.now() / 1000) => ({ data, ts, uid: 'u' });
const datas = async (room: string, offset = 0) => (await history.page(NS, room, offset)).data.map((e) => e.data);

describe('RoomsyncHistory', () => {
  test('inserts in order, updates last-write-wins in write order (ties within a millisecond kept), ignored never paged', async () => {
    const now = Date.now();
    // Every entry stamped with `now`: entry()'s own clock could cross a second between two stores.
    const at = (data: string) => entry(data, now / 1000);
    await history.store(NS, 'a', 1, 'x', at('x1'), retention, now);
    await history.store(NS, 'a', 1, 'y', at('y1'), retention, now);
    await history.store(NS, 'a', 0, '', at('i1'), retention, now);
    await history.store(NS, 'a', 1, 'x', at('x2'), retention, now);
    await history.store(NS, 'a', 2, 'n', at('ignored'), retention, now);
    const ts = Math.floor(now / 1000);
    expect(await history.page(NS, 'a', 0)).toEqual({ data: [entry('i1', ts), entry('y1', ts), entry('x2', ts)], offset: 3, next: 0 });
    expect(await redis.llen(rk.ignored(NS, 'a'))).toBe(1);
  });

  test('pages of 200: next 1 while a page is full, the updates after the last inserts, offset counting them', async () => {
    for (let i = 0; i < 400; i++) await history.store(NS, 'p', 0, '', entry(i), retention);
    await history.store(NS, 'p', 1, 'u', entry('u'), retention);
    expect((await history.page(NS, 'p', 0)).next).toBe(1);
    const second = await history.page(NS, 'p', 200);
    expect([second.data.length, second.offset, second.next]).toEqual([200, 400, 1]);
    const last = await history.page(NS, 'p', 400);
    expect([last.data.map((e) => e.data), last.offset, last.next]).toEqual([['u'], 401, 0]);
  });

  test('history_max_messages keeps the newest inserts, ignored messages and msgIds', async () => {
    const small = { maxMessages: 3, maxAgeS: 3600 };
    const now = Date.now();
    for (let i = 0; i < 5; i++) {
      await history.store(NS, 'c', 0, '', entry(i), small, now + i);
      await history.store(NS, 'c', 1, `id${i}`, entry(`u${i}`), small, now + i);
      await history.store(NS, 'c', 2, '', entry(`g${i}`), small, now + i);
    }
    expect(await datas('c')).toEqual([2, 3, 4, 'u2', 'u3', 'u4']);
    expect(await redis.hkeys(rk.updates(NS, 'c'))).toEqual(expect.arrayContaining(['id2', 'id3', 'id4']));
    expect(await redis.hlen(rk.updates(NS, 'c'))).toBe(3);
    expect(await redis.llen(rk.ignored(NS, 'c'))).toBe(3);
  });

  test('history_max_age_s drops older messages at the next write, and every key of the room expires after it', async () => {
    const aged = { maxMessages: 1000, maxAgeS: 60 };
    const now = 1_800_000_000_000;
    await history.store(NS, 'o', 0, '', entry('old', now / 1000 - 120), aged, now - 120_000);
    await history.store(NS, 'o', 1, 'k', entry('old-update', now / 1000 - 120), aged, now - 120_000);
    await history.store(NS, 'o', 0, '', entry('new', now / 1000), aged, now);
    await history.store(NS, 'o', 1, 'j', entry('new-update', now / 1000), aged, now);
    expect(await datas('o')).toEqual(['new', 'new-update']);
    for (const key of [rk.inserts(NS, 'o'), rk.updates(NS, 'o'), rk.updateOrder(NS, 'o')]) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  test('room ids of any characters are rooms of their own; clear removes one room only', async () => {
    const rooms = ['1000', 'a}{b|c:d', 'a}{b', '房间 1'];
    for (const room of rooms) await history.store(NS, room, 0, '', entry(room), retention);
    for (const room of rooms) expect(await datas(room)).toEqual([room]);
    await history.clear(NS, 'a}{b');
    expect(await datas('a}{b')).toEqual([]);
    expect(await datas('a}{b|c:d')).toEqual(['a}{b|c:d']);
  });
});

describe('RoomsyncPresence', () => {
  const live = (uid: string, sid: string) => redis.hset(keys.client(`${NS}#${uid}#web-${uid}`), 'sid', sid);

  test('an older connection never removes what a newer one of the same uid wrote', async () => {
    const presence = new RoomsyncPresence(redis, keys);
    await live('u1', 'old');
    await presence.online(NS, { sid: 'old', uid: 'u1' });
    await presence.join(NS, 'r', { sid: 'old', uid: 'u1', dummy: false }, { sid: 'old', uid: 'u1' });
    await live('u1', 'new');
    expect(await presence.online(NS, { sid: 'new', uid: 'u1' })).toEqual({ sid: 'old', uid: 'u1', room: 'r' });
    const members = await presence.join(NS, 'r', { sid: 'new', uid: 'u1', dummy: false }, { sid: 'new', uid: 'u1' });
    expect(members).toEqual([{ sid: 'new', uid: 'u1', dummy: false }]);
    await presence.leave(NS, 'r', 'u1', 'old', true);
    expect(await presence.members(NS, 'r')).toEqual([{ sid: 'new', uid: 'u1', dummy: false }]);
    expect(await presence.user(NS, 'u1')).toEqual({ sid: 'new', uid: 'u1', room: 'r' });
    await presence.leave(NS, 'r', 'u1', 'new', true);
    expect(await presence.snapshot(NS)).toEqual({ users: [], rooms: [] });
  });

  test('entries whose connection is no longer the client record\'s are dropped when read', async () => {
    const presence = new RoomsyncPresence(redis, keys);
    await live('a', 's-a');
    await presence.online(NS, { sid: 's-a', uid: 'a' });
    await presence.join(NS, 'r', { sid: 's-a', uid: 'a', dummy: false }, { sid: 's-a', uid: 'a' });
    await redis.hdel(keys.client(`${NS}#a#web-a`), 'sid');
    expect(await presence.members(NS, 'r')).toEqual([]);
    expect(await presence.snapshot(NS)).toEqual({ users: [], rooms: [] });
    expect(await redis.exists(rk.room(NS, 'r'), rk.users(NS), rk.rooms(NS))).toBe(0);
  });
});

describe('RoomsyncAccounts', () => {
  test('create once, refresh only an existing uid, verify the current token only; digests stored', async () => {
    const accounts = new RoomsyncAccounts(redis, keys);
    const token = await accounts.create(NS, 'u');
    expect(token).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(await accounts.create(NS, 'u')).toBeUndefined();
    expect(await accounts.verify(NS, 'u', token!)).toBe(true);
    const fresh = await accounts.refresh(NS, 'u');
    expect(await accounts.verify(NS, 'u', token!)).toBe(false);
    expect(await accounts.verify(NS, 'u', fresh!)).toBe(true);
    expect(await accounts.refresh(NS, 'ghost')).toBeUndefined();
    expect(await accounts.verify(NS, 'ghost', 'x')).toBe(false);
    expect(await redis.hget(rk.tokens(NS), 'u')).toMatch(/^[0-9a-f]{64}$/);
  });

  test('the rate limit allows `limit` authentications per window, then refuses until it expires', async () => {
    const accounts = new RoomsyncAccounts(redis, keys);
    for (let i = 0; i < 3; i++) expect(await accounts.allow(NS, 'u', 3, 300)).toBe(true);
    expect(await accounts.allow(NS, 'u', 3, 300)).toBe(false);
    expect(await accounts.allow(NS, 'other', 3, 300)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await accounts.allow(NS, 'u', 3, 300)).toBe(true);
  });
});

describe('namespace clean-up', () => {
  test('deleting a namespace\'s data removes its roomsync history, tokens and presence, and nothing of another namespace', async () => {
    for (const nsp of [NS, '/other']) {
      await history.store(nsp, 'room 1', 0, '', entry('x'), retention);
      await history.store(nsp, 'room 1', 1, 'k', entry('y'), retention);
      await history.store(nsp, 'room 1', 2, '', entry('z'), retention);
      await new RoomsyncAccounts(redis, keys).create(nsp, 'u');
      await new RoomsyncPresence(redis, keys).online(nsp, { sid: 's', uid: 'u' });
    }
    await new NamespaceCleanup(redis, keys).clearData(NS);
    expect(await redis.keys(`rs:{${NS}}*`)).toEqual([]);
    const other = new RoomsyncKeys(keys);
    const left = (await redis.keys('rs:{/other}*')).sort();
    expect(left.filter((key) => !key.startsWith(other.storeMark('/other', '')))).toEqual(
      [other.inserts('/other', 'room 1'), other.updates('/other', 'room 1'), other.updateOrder('/other', 'room 1'), other.ignored('/other', 'room 1'), other.tokens('/other'), other.users('/other')].sort(),
    );
    // One mark per store call, kept for a while (a resend of that call stores nothing).
    expect(left.filter((key) => key.startsWith(other.storeMark('/other', '')))).toHaveLength(3);
  });
});
