import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '@herald/test-support';
import { validatePushRequest } from '@herald/wire';
import { PLATFORMS } from '@herald/wire';
import { HISTORY_LENGTH, INBOX_CAPACITY, InboxStore, Keys, MessageStore, NamespaceStore, RoomStore, RoomsyncKeys, Scripts, pipelineBySlot, readScripts, runScript, loadedScript, scriptCommand, verifyPassword, packAck, packDelivery, reportBatchCall, statPeriods } from '../src';
const slot: (key: string) => number = require('cluster-key-slot');

let server: TestRedis;
let redis: Redis;
const keys = new Keys('t:');
const rk = new RoomsyncKeys(keys);
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

describe('runScript', () => {
  const echo = loadedScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}", 1);

  test('runs a script Redis has not cached (EVALSHA, NOSCRIPT, EVAL) exactly once, then by its SHA-1 alone', async () => {
    await redis.script('FLUSH');
    await redis.config('RESETSTAT');
    expect(await runScript(redis, echo, ['t:n'], ['a'])).toEqual(['t:n', 'a', 1]);
    expect(await runScript(redis, echo, ['t:n'], ['b'])).toEqual(['t:n', 'b', 2]);
    const stats = await redis.info('commandstats');
    expect(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1]).toBe('1');
    expect(/cmdstat_evalsha:calls=(\d+),.*failed_calls=(\d+)/.exec(stats)?.slice(1)).toEqual(['2', '1']);
    // A server that lost its script cache (restart, SCRIPT FLUSH) runs it again, once.
    await redis.script('FLUSH');
    expect(await runScript(redis, echo, ['t:n'], ['c'])).toEqual(['t:n', 'c', 3]);
  });

  test('a script error reaches the caller as it is, and is not retried', async () => {
    await redis.set('t:s', 'text');
    await expect(runScript(redis, echo, ['t:s'], ['a'])).rejects.toThrow(/not an integer/);
    expect(await redis.get('t:s')).toBe('text');
  });

  test('a call with the wrong number of keys is refused before it reaches Redis', async () => {
    await expect(runScript(redis, echo, ['t:n', 't:m'], ['a'])).rejects.toThrow('script takes 1 keys, called with 2');
    expect(await redis.exists('t:n', 't:m')).toBe(0);
    expect(() => scriptCommand(redis, 'pushAccept')).toThrow(/fixed number of keys/);
  });

  test('the client carries no script methods, so its pipelines and MULTIs copy none', () => {
    new Scripts(redis);
    expect(Object.keys(redis.pipeline()).filter((name) => /accept|report|room/i.test(name))).toEqual([]);
  });
});

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

describe('statPeriods', () => {
  test('names the UTC minute, hour and day of any time, however the calls are ordered', () => {
    const at = Date.UTC(2026, 10, 22, 23, 59, 30);
    expect(statPeriods(at)).toEqual({ minute: '202611222359', hour: '2026112223', day: '20261122' });
    expect(statPeriods(at + 29_000)).toEqual({ minute: '202611222359', hour: '2026112223', day: '20261122' });
    expect(statPeriods(at + 30_000)).toEqual({ minute: '202611230000', hour: '2026112300', day: '20261123' });
    // An earlier time after a later one (clocks of several callers).
    expect(statPeriods(at - 31_000)).toEqual({ minute: '202611222358', hour: '2026112223', day: '20261122' });
    expect(statPeriods(at)).toEqual({ minute: '202611222359', hour: '2026112223', day: '20261122' });
  });
});

describe('report-batch and report-apply', () => {
  test('each client’s ack counts once, per platform; web counts in ackCount only', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const { id } = await messages.store('/demo', push('r1'));
    // A connector's batch: a delivery count, c1's ack twice, c2's and c3's.
    const call = reportBatchCall(keys, '/demo', 'batch-1', [[id, { deliveries: [packDelivery(1, 3)], acks: [packAck('ios', 2, 'c1'), packAck('ios', 3, 'c1'), packAck('android', 4, 'c2'), packAck('web', 5, 'c3')] }]], 200, 'conn');
    const applied = await scripts.reportBatch(call.keys, call.args);
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

  test('APNs outcomes: a device recorded twice (a batch run by two workers) counts once, with one timeline entry; each outcome lands with its counters', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const { id } = await messages.store('/demo', push('r1'));
    const device = (clientId: string, outcome: string) => ({
      clientId,
      outcome,
      add: (outcome === 'ok' ? { apnsCount: 1, apnsSuccessCount: 1 } : { apnsCount: 1, 'apnsFailed:BadDeviceToken': 1 }) as Record<string, number>,
      entry: { at: 1, step: 'apns' as const, clientId, outcome, token: '…abcd' },
    });
    await messages.recordOutcomes('/demo', id, [device('c1', 'ok'), device('c2', '400 BadDeviceToken')], { apnsEnv: 'dev' }, 200);
    // The second run: c1 and c2 again (c2 now answered ok), c3 new.
    await messages.recordOutcomes('/demo', id, [device('c1', 'ok'), device('c2', 'ok'), device('c3', 'ok')], { apnsEnv: 'dev' }, 200);
    const report = await messages.report('/demo', id);
    expect(report).toMatchObject({ apnsCount: 3, apnsSuccessCount: 2, apnsFailures: { BadDeviceToken: 1 }, apnsEnv: 'dev' });
    expect(await redis.hgetall(keys.apnsOutcomes('/demo', id))).toEqual({ c1: 'ok', c2: '400 BadDeviceToken', c3: 'ok' });
    const entries = (await redis.lrange(keys.timeline('/demo', id), 0, -1)).map((e) => JSON.parse(e).clientId);
    expect(entries).toEqual(['c1', 'c2', 'c3']);
    // The outcome hash expires with the message.
    expect(await redis.pttl(keys.apnsOutcomes('/demo', id))).toBeGreaterThan(0);
  });

  test('APNs outcomes of an expired message create no key', async () => {
    await new MessageStore(redis, keys, scripts).recordOutcomes('/demo', 9, [{ clientId: 'c1', outcome: 'ok', add: { apnsCount: 1 }, entry: { at: 1, step: 'apns', clientId: 'c1', outcome: 'ok', token: '…abcd' } }], { apnsEnv: 'dev' }, 200);
    expect(await redis.dbsize()).toBe(0);
  });

  test('a batch written twice (a retry, or a resend after a lost reply) is applied once; another batch repeating an ack counts it once; clientIds keep any character', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const { id } = await messages.store('/demo', push('r1'));
    const odd = '/demo#u:1 "x"\\\\#web-é:2';
    const call = reportBatchCall(keys, '/demo', 'conn-a:1', [[id, { deliveries: [packDelivery(6, 2)], acks: [packAck('web', 7, odd), packAck('ios', 8, 'c2')] }]], 200, 'conn');
    expect(await scripts.reportBatch(call.keys, call.args)).toBe(3);
    expect(await scripts.reportBatch(call.keys, call.args)).toBe(-1);
    // Another batch with c2's ack again: not counted again, no second timeline entry.
    const later = reportBatchCall(keys, '/demo', 'conn-a:2', [[id, { deliveries: [], acks: [packAck('ios', 9, 'c2')] }]], 200, 'conn');
    expect(await scripts.reportBatch(later.keys, later.args)).toBe(0);
    expect(await messages.report('/demo', id)).toMatchObject({ onlineClientCount: 2, ackCount: 2, ackIOSCount: 1, ackAndroidCount: 0 });
    expect(await redis.smembers(keys.acks('/demo', id, 'web'))).toEqual([odd]);
    expect((await redis.lrange(keys.timeline('/demo', id), 0, -1)).map((e) => JSON.parse(e))).toEqual([
      { at: 6, step: 'delivered', connector: 'conn', sockets: 2 },
      { at: 7, step: 'acked', clientId: odd, platform: 'web' },
      { at: 8, step: 'acked', clientId: 'c2', platform: 'ios' },
    ]);
    // The mark expires (10 minutes).
    const ttl = await redis.pttl(keys.reportBatchMark('/demo', 'conn-a:1'));
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  test('a batch over several messages: each message its own counters; past the timeline cap only timelineDropped grows', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const a = (await messages.store('/demo', push('r1'))).id;
    const b = (await messages.store('/demo', push('r1'))).id;
    const acks = (n: number) => Array.from({ length: n }, (_, i) => packAck('android', i, `c${i}`));
    // 250 entries for a: more than one RPUSH slice, 50 past the cap.
    const call = reportBatchCall(keys, '/demo', 'batch-3', [[a, { deliveries: [packDelivery(0, 249)], acks: acks(249) }], [b, { deliveries: [], acks: acks(3) }]], 200, 'conn');
    expect(await scripts.reportBatch(call.keys, call.args)).toBe(253);
    expect(await messages.report('/demo', a)).toMatchObject({ onlineClientCount: 249, ackCount: 249, ackAndroidCount: 249 });
    expect(await messages.report('/demo', b)).toMatchObject({ onlineClientCount: 0, ackCount: 3, ackAndroidCount: 3 });
    expect(await redis.llen(keys.timeline('/demo', a))).toBe(200);
    expect(await redis.hget(keys.message('/demo', a), 'timelineDropped')).toBe('50');
    expect(JSON.parse((await redis.lindex(keys.timeline('/demo', a), 0))!)).toEqual({ at: 0, step: 'delivered', connector: 'conn', sockets: 249 });
    expect(await redis.pttl(keys.timeline('/demo', a))).toBeGreaterThan(0);
  });

  test('past the timeline cap the acks are added per platform in bulk: new clients counted once each, repeats and duplicates not at all', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const { id } = await messages.store('/demo', push('r1'));
    const many = (platform: 'web' | 'android' | 'ios', prefix: string, from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => packAck(platform, 10, `${prefix}${from + i}`));
    // A cap of 5: the delivery and four web acks fill the timeline; then 600 android (more than one
    // SADD slice, one of them twice), 300 ios, and ten web acks of which four repeat the first four.
    const acks = [...many('web', 'w', 0, 4), ...many('android', 'a', 0, 600), packAck('android', 11, 'a0'), ...many('ios', 'i', 0, 300), ...many('web', 'w', 0, 10)];
    const first = reportBatchCall(keys, '/demo', 'bulk-1', [[id, { deliveries: [packDelivery(1, 910)], acks }]], 5, 'conn');
    expect(await scripts.reportBatch(first.keys, first.args)).toBe(1 + 910);
    expect(await messages.report('/demo', id)).toMatchObject({ onlineClientCount: 910, ackCount: 910, ackAndroidCount: 600, ackIOSCount: 300 });
    expect(await redis.scard(keys.acks('/demo', id, 'web'))).toBe(10);
    expect(await redis.llen(keys.timeline('/demo', id))).toBe(5);
    expect(await redis.hget(keys.message('/demo', id), 'timelineDropped')).toBe('906');
    expect(await redis.pttl(keys.acks('/demo', id, 'android'))).toBeGreaterThan(0);
    // Another batch: a repeat and one new client.
    const second = reportBatchCall(keys, '/demo', 'bulk-2', [[id, { deliveries: [], acks: [packAck('android', 12, 'a0'), packAck('ios', 12, 'i300')] }]], 5, 'conn');
    expect(await scripts.reportBatch(second.keys, second.args)).toBe(1);
    expect(await messages.report('/demo', id)).toMatchObject({ ackCount: 911, ackAndroidCount: 600, ackIOSCount: 301 });
    expect(await redis.hget(keys.message('/demo', id), 'timelineDropped')).toBe('907');
  });

  test('updates for unknown or expired messages change nothing and create no key', async () => {
    const call = reportBatchCall(keys, '/demo', 'batch-4', [[9, { deliveries: [packDelivery(1, 2)], acks: [packAck('web', 1, 'c1')] }]], 200, 'conn');
    const applied = await scripts.reportBatch(call.keys, call.args);
    expect(applied).toBe(0);
    // Only the batch's own mark is written.
    await redis.del(call.keys[0]!);
    const other = await scripts.reportApply([keys.message('/demo', 9), keys.message('/demo', 9)], ['n', 1, 'apnsCount']);
    expect(other).toBe(0);
    expect(await redis.dbsize()).toBe(0);
  });
});

describe('ack detail', () => {
  test('each platform list is capped at the limit, with truncated set only where members were left out', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const { id } = await messages.store('/demo', push('r1'));
    const iosAcks = ['i1', 'i2', 'i3', 'i4', 'i5'];
    const call = reportBatchCall(keys, '/demo', 'batch-5', [[id, { deliveries: [], acks: [...iosAcks.map((cid) => packAck('ios', 1, cid)), packAck('android', 1, 'a1')] }]], 200, 'conn');
    expect(await scripts.reportBatch(call.keys, call.args)).toBe(6);

    const capped = await messages.ackDetail('/demo', id, 3);
    expect(capped.ios.truncated).toBe(true);
    expect(capped.ios.ids).toHaveLength(3);
    expect(new Set(capped.ios.ids).size).toBe(3);
    for (const cid of capped.ios.ids) expect(iosAcks).toContain(cid);
    expect(capped.android).toEqual({ ids: ['a1'], truncated: false });
    expect(capped.web).toEqual({ ids: [], truncated: false });
    // At the limit exactly, nothing is left out.
    expect((await messages.ackDetail('/demo', id, 5)).ios).toEqual({ ids: iosAcks, truncated: false });
  });
});

describe('inbox', () => {
  test('keeps the newest 100 entries by default; an entry added twice is one entry', async () => {
    const inbox = new InboxStore(redis, keys, scripts);
    expect(INBOX_CAPACITY).toBe(100);
    for (let id = 1; id <= INBOX_CAPACITY + 5; id++) await inbox.add('/demo#u#android-x', id, 60_000);
    expect(await inbox.add('/demo#u#android-x', INBOX_CAPACITY + 5, 60_000)).toBe(0);
    const ids = await redis.zrange(keys.clientInbox('/demo#u#android-x'), 0, -1);
    expect(ids).toEqual(Array.from({ length: INBOX_CAPACITY }, (_, i) => String(i + 6)));
  });

  test('the inbox lives as long as its longest-lived message, and an expired message is skipped and removed', async () => {
    const messages = new MessageStore(redis, keys, scripts);
    const inbox = new InboxStore(redis, keys, scripts);
    const cid = '/demo#u#android-y';
    const long = await messages.store('/demo', push('r1', { expire: 2 }));
    const short = await messages.store('/demo', push('r1'));
    await inbox.add(cid, long.id, 7_200_000);
    await inbox.add(cid, short.id, 3_600_000);
    const ttl = await redis.pttl(keys.clientInbox(cid));
    expect(ttl).toBeGreaterThan(7_100_000);
    expect(ttl).toBeLessThanOrEqual(7_200_000);
    await redis.del(keys.message('/demo', long.id)); // as if it had expired
    expect((await inbox.pending(cid, '/demo')).map((m) => m.id)).toEqual([short.id]);
    expect(await redis.zrange(keys.clientInbox(cid), 0, -1)).toEqual([String(short.id)]);
  });
});

describe('rooms', () => {
  test('join, offline and leave keep online and member sets apart, and online users per room', async () => {
    const rooms = new RoomStore(redis, keys, scripts);
    const c1 = { clientId: 'c1', userid: 'u', platform: 'ios' as const };
    const c2 = { clientId: 'c2', userid: 'u', platform: 'web' as const };
    await rooms.join('/demo', 'r1', c1, 's1');
    await rooms.join('/demo', 'r1', c2, 's2');
    await rooms.join('/demo', 'r1', c2, 's2');
    expect(await redis.hgetall(keys.roomOnlineUsers('/demo', 'r1'))).toEqual({ u: '2' });
    expect(await redis.smembers(keys.namespaceRooms('/demo'))).toEqual(['r1']);
    expect(await rooms.expectedAcks('/demo', 'r1', undefined)).toBe(2);
    expect(await rooms.expectedAcks('/demo', 'r1', 'c2')).toBe(1);
    expect(await rooms.expectedAcks('/demo', 'r1', 'nobody')).toBe(2);
    await rooms.offline('/demo', 'r1', c1, 's1');
    await rooms.offline('/demo', 'r1', c1, 's1');
    expect(await redis.hgetall(keys.roomOnlineUsers('/demo', 'r1'))).toEqual({ u: '1' });
    expect(await redis.smembers(keys.roomOnline('/demo', 'r1'))).toEqual(['c2']);
    expect(await redis.smembers(keys.roomMembersBy('/demo', 'r1', 'ios'))).toEqual(['c1']);
    await rooms.leave('/demo', 'r1', c2);
    expect(await redis.smembers(keys.roomMembers('/demo', 'r1'))).toEqual(['c1']);
    expect(await redis.scard(keys.roomOnline('/demo', 'r1'))).toBe(0);
    expect(await redis.exists(keys.roomOnlineUsers('/demo', 'r1'))).toBe(0);
    expect(await redis.exists(keys.roomOnlineConnections('/demo', 'r1'))).toBe(0);
  });

  test("a late clean-up of a client's old connection leaves the newer connection online in the room", async () => {
    const rooms = new RoomStore(redis, keys, scripts);
    const c = { clientId: 'late', userid: 'lu', platform: 'android' as const };
    await rooms.join('/demo', 'r2', c, 'old-socket');
    // The client reconnected (another connector) and re-joined before the old socket's clean-up ran.
    await rooms.join('/demo', 'r2', c, 'new-socket');
    expect(await rooms.offline('/demo', 'r2', c, 'old-socket')).toBe(0);
    expect(await redis.smembers(keys.roomOnline('/demo', 'r2'))).toEqual(['late']);
    expect(await redis.smembers(keys.roomOnlineBy('/demo', 'r2', 'android'))).toEqual(['late']);
    expect(await redis.hgetall(keys.roomOnlineUsers('/demo', 'r2'))).toEqual({ lu: '1' });
    expect(await rooms.expectedAcks('/demo', 'r2', undefined)).toBe(1);
    // The newer connection's own end does take it offline.
    expect(await rooms.offline('/demo', 'r2', c, 'new-socket')).toBe(1);
    expect(await redis.scard(keys.roomOnline('/demo', 'r2'))).toBe(0);
    expect(await redis.exists(keys.roomOnlineUsers('/demo', 'r2'))).toBe(0);
    expect(await redis.smembers(keys.roomMembers('/demo', 'r2'))).toEqual(['late']);
  });
});

describe('Redis Cluster: every script keeps its keys on one slot', () => {
  // Realistic names within the seed's character class ([\w.\-$#/\\]), user rooms included.
  const names = [
    { nsp: '/', room: 'news', userid: 'u1', uuid: 'a1b2c3' },
    { nsp: '/chat.app-2', room: 'user_42', userid: '42', uuid: 'F0E1D2C3-B4A5-9687-7869-5A4B3C2D1E0F' },
    { nsp: '/org$1/team#7', room: 'group\\a.b-c', userid: 'x_y', uuid: 'dev.9' },
  ];
  const clientId = (n: (typeof names)[number], platform: string) => `${n.nsp}#${n.userid}#${platform}-${n.uuid}`;
  // The keys each script is called with (and, for push-accept, the ones it builds from its prefix).
  const scriptKeys: Record<string, (n: (typeof names)[number]) => string[][]> = {
    // On a cluster the push script gets only {nsp} keys (PushService counts the audience and checks
    // the failed-authentication limit apart): counter, history, idempotency record.
    pushAccept: (n) => [[keys.messageSeq(n.nsp), keys.history(n.nsp), keys.idempotency(n.nsp, 'K-1{x}:y'), keys.message(n.nsp, 9007199254740991), `${keys.statPrefix(n.nsp)}m:202611231812`]],
    reportApply: (n) => [[keys.message(n.nsp, 1), keys.apnsOutcomes(n.nsp, 1), keys.message(n.nsp, 2), keys.timeline(n.nsp, 2)]],
    reportBatch: (n) => [reportBatchCall(keys, n.nsp, 'batch-6', [[1, { deliveries: [], acks: [] }], [2, { deliveries: [], acks: [] }]], 200, 'c').keys],
    roomJoin: (n) =>
      PLATFORMS.map((p) => [
        keys.roomOnline(n.nsp, n.room),
        keys.roomOnlineBy(n.nsp, n.room, p),
        keys.roomMembers(n.nsp, n.room),
        keys.roomMembersBy(n.nsp, n.room, p),
        keys.roomOnlineUsers(n.nsp, n.room),
        keys.roomOnlineConnections(n.nsp, n.room),
      ]),
    roomLeave: (n) => scriptKeys['roomJoin']!(n),
    roomOffline: (n) =>
      PLATFORMS.map((p) => [keys.roomOnline(n.nsp, n.room), keys.roomOnlineBy(n.nsp, n.room, p), keys.roomOnlineUsers(n.nsp, n.room), keys.roomOnlineConnections(n.nsp, n.room)]),
    namespacePresence: (n) => [[keys.namespaceOnline(n.nsp), keys.namespaceOnlineUsers(n.nsp), keys.namespaceClients(n.nsp)]],
    namespaceSave: (n) => [[keys.namespace(n.nsp)]],
    inboxAdd: (n) => PLATFORMS.map((p) => [keys.clientInbox(clientId(n, p))]),
    clientTokenDrop: (n) => [[keys.client(clientId(n, 'ios'))]],
    clientDisconnect: (n) => PLATFORMS.map((p) => [keys.client(clientId(n, p))]),
    connectorRegistry: () => [[keys.connectors()]],
    // The webservice scripts declare the counter and build the other keys from the base (same tag).
    webserviceConnect: (n) => [webserviceKeys(n)],
    webserviceDisconnect: (n) => [webserviceKeys(n)],
    webserviceSend: (n) => [webserviceKeys(n)],
    webserviceAck: (n) => [webserviceKeys(n)],
    webserviceBatchAck: (n) => [webserviceKeys(n)],
    // Roomsync (seed 000) room ids are any string: percent-encoded in key names (roomsync-keys.ts).
    roomsyncStore: (n) => [n.room, '1000', 'a}{b|c:d 房间'].map((room) => [rk.inserts(n.nsp, room), rk.updates(n.nsp, room), rk.updateOrder(n.nsp, room), rk.ignored(n.nsp, room), rk.storeMark(n.nsp, 'AbC-9_x')]),
    roomsyncPage: (n) => [n.room, 'a}{b|c:d 房间'].map((room) => [rk.inserts(n.nsp, room), rk.updates(n.nsp, room), rk.updateOrder(n.nsp, room)]),
    roomsyncPresence: (n) => [n.room, '', 'a}{b|c:d'].map((room) => [rk.users(n.nsp), rk.room(n.nsp, room), rk.rooms(n.nsp)]),
    roomsyncAccount: (n) => [[rk.tokens(n.nsp)], [rk.authCount(n.nsp, n.userid)]],
  };
  function webserviceKeys(n: (typeof names)[number]): string[] {
    const base = `${keys.prefix}{${n.nsp}}:ws:`;
    const device = `${n.room}|${n.uuid}`;
    return [`${base}seq`, `${base}room:${n.room.toLowerCase()}`, `${base}user:${n.room}`, `${base}dev:${n.room}`, `${base}q:${device}`, `${base}m:${device}`];
  }

  test('the table covers every script of libs/store/lua', () => {
    expect(Object.keys(scriptKeys).sort()).toEqual(readScripts().map((s) => s.command).sort());
  });

  test.each(Object.keys(scriptKeys))('%s', (command) => {
    for (const n of names) {
      for (const call of scriptKeys[command]!(n)) expect(new Set(call.map(slot)).size).toBe(1);
    }
  });

  test('other multi-key commands: a client record with its room list, do-not-disturb set and inbox; the push counters (MGET)', () => {
    for (const n of names) {
      const cid = clientId(n, 'android');
      expect(new Set([keys.client(cid), keys.clientRooms(cid), keys.clientMuted(cid), keys.clientInbox(cid)].map(slot)).size).toBe(1);
      expect(new Set(['m:1', 'h:1', 'd:1'].map((p) => slot(keys.statPrefix(n.nsp) + p))).size).toBe(1);
    }
  });

  test('BullMQ: the cluster prefix is a hash tag, so every key of every queue shares one slot; single-server names are unchanged', () => {
    const cluster = new Keys('h:', { cluster: true });
    expect(new Keys('h:').queuePrefix()).toBe('h:q');
    expect(cluster.queuePrefix()).toBe('{h:q}');
    const bullKeys = ['offline', 'apns', 'webhooks'].flatMap((q) => ['wait', 'active', 'delayed', 'meta', 'events', 'id', '/chat#1'].map((k) => `${cluster.queuePrefix()}:${q}:${k}`));
    expect(new Set(bullKeys.map(slot)).size).toBe(1);
    // Only the queue prefix changes with the target.
    expect(cluster.message('/a', 1)).toBe(new Keys('h:').message('/a', 1));
  });
});

test('pipelineBySlot returns each item’s replies in item order, whatever number of commands an item queues', async () => {
  await redis.set('p:a', '1');
  await redis.set('p:c', '3');
  const replies = await pipelineBySlot(redis, ['a', 'b', 'c'], (item) => `p:${item}`, (pipeline, item) => {
    pipeline.get(`p:${item}`);
    if (item !== 'b') pipeline.exists(`p:${item}`);
  });
  expect(replies).toEqual([['1', 1], [null], ['3', 1]]);
  expect(await pipelineBySlot(redis, [], () => 'x', () => undefined)).toEqual([]);
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
