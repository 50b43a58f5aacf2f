/**
 * The operators' namespace clean-ups with real processes (issue "The push protocol, REST side"):
 * clear and flush delete exactly one namespace's data — counted key by key, with the other
 * namespaces' keys and values unchanged — only once the namespace is offline; clear-realtime-data
 * takes clients offline but keeps their rooms; clear-legacy-client forgets clients not seen within
 * HERALD_LEGACY_CLIENT_HOURS.
 *
 * The namespaces are chosen to trip a careless key match: `/t`, `/tt` (a prefix of it) and `/t\`
 * (whose `\` is a pattern character of SCAN MATCH).
 */
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { startService, until, type ServiceProcess } from '@herald/test-support';
import type { OkPayload } from '@herald/wire';
import { basic, connectClient, connectError, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

const keys = new Keys('h:');
const PASSWORD = 'pw';
const LEGACY_HOURS = 1;
const HOUR = 3_600_000;
let stack: Stack;
let worker: ServiceProcess;
/** A connector that keeps the sockets of an offline namespace for an hour (clear-realtime-data). */
let keeper: ServiceProcess;
let redis: Redis;
const opened: Recorded[] = [];

/** A connected test client and its clientId. */
type Client = Recorded & { ok: OkPayload; id: string };

beforeAll(async () => {
  stack = await startStack({
    connectors: 2,
    env: { HERALD_NAMESPACE_OFFLINE_DELAY_MS: '0', HERALD_OFFLINE_DELAY_MS: '200', HERALD_LEGACY_CLIENT_HOURS: String(LEGACY_HOURS) },
  });
  [worker, keeper] = await Promise.all([
    startService('worker', { env: stack.env }),
    stack.startConnector({ HERALD_NAMESPACE_OFFLINE_DELAY_MS: String(HOUR) }),
  ]);
  redis = new Redis(stack.redis.url);
});
afterAll(async () => {
  for (const c of opened) c.socket.close();
  await redis?.quit();
  const codes = await Promise.all([worker?.stop(), stack?.stop()]);
  expect(codes).toEqual([0, [0, 0, 0, 0]]);
});

// ------------------------------------------------------------------------------------ helpers

async function client(port: number, nsp: string, query: Record<string, string>): Promise<Client> {
  const c = await connectClient(port, nsp, query);
  opened.push(c);
  return Object.assign(c, { id: c.ok.clientId });
}

const connector = (i: number) => stack.connectors[i]!.port;
const save = (body: Record<string, unknown>) => stack.api('/api/admin/namespace/save', { auth: ADMIN, body });

async function push(nsp: string, body: Record<string, unknown>): Promise<number> {
  const response = await stack.api('/api/auth/push', { auth: basic(nsp, PASSWORD), body });
  expect(response.status).toBe(200);
  return response.body.id;
}

/** The namespace a key belongs to (by its tag or prefix), or `global`. Test names hold no `#`. */
function owner(key: string): string {
  const match = /^h:(?:ns:(.+)|\{([^}|]+)\}:|\{([^}|]+)\|[^}]*\}:|c:\{([^#}]+)#)/.exec(key);
  return match ? (match[1] ?? match[2] ?? match[3] ?? match[4])! : 'global';
}

async function value(key: string): Promise<unknown> {
  switch (await redis.type(key)) {
    case 'hash':
      return redis.hgetall(key);
    case 'set':
      return (await redis.smembers(key)).sort();
    case 'zset':
      return redis.zrange(key, 0, -1, 'WITHSCORES');
    case 'list':
      return redis.lrange(key, 0, -1);
    case 'string':
      return redis.get(key);
    default:
      return undefined;
  }
}

/** Every key of Redis (SCAN), grouped by owning namespace, with its value. */
async function byNamespace(): Promise<Map<string, Map<string, unknown>>> {
  const all = new Map<string, Map<string, unknown>>();
  let cursor = '0';
  do {
    const [next, page] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of page) {
      const nsp = owner(key);
      if (!all.has(nsp)) all.set(nsp, new Map());
      all.get(nsp)!.set(key, await value(key));
    }
  } while (cursor !== '0');
  return all;
}

function keysOf(groups: Map<string, Map<string, unknown>>, nsp: string): string[] {
  return [...(groups.get(nsp)?.keys() ?? [])].sort();
}

/** Keys of a namespace with their values, sorted, for equality checks. */
function contents(groups: Map<string, Map<string, unknown>>, nsp: string): [string, unknown][] {
  return [...(groups.get(nsp) ?? new Map<string, unknown>()).entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Members of every connector's client set: who the connectors think they hold. */
async function connectorClients(): Promise<string[]> {
  const out: string[] = [];
  for (const connectorId of await redis.zrange(keys.connectors(), 0, -1)) out.push(...(await redis.smembers(keys.connectorClients(connectorId))));
  return out;
}

/**
 * A namespace in use: clients of every platform on two connectors, in rooms and user rooms, one of
 * them muting a room, one offline with an inbox, pushes acked by everyone online (so the reports
 * have ack sets) and stored offline.
 */
async function populate(nsp: string): Promise<Client[]> {
  expect((await save({ key: nsp, auth_passwd: PASSWORD, apns_list: [{ name: 'app', apns_env: 'dev', apns_topic: 'com.example' }] })).status).toBe(200);
  const offline = await client(connector(1), nsp, { uuid: 'carol-phone', userid: 'carol', platform: 'android' });
  await emitWithAck(offline.socket, 'joinRoom', ['news']);
  const left = new Promise((resolve) => offline.socket.once('disconnect', resolve));
  offline.socket.close();
  await left;
  await until(async () => ((await redis.hget(keys.client(offline.id), 'sid')) === null ? true : undefined));

  const web = await client(connector(0), nsp, { uuid: 'alice-web', userid: 'alice', platform: 'web' });
  const android = await client(connector(1), nsp, { uuid: 'bob-phone', userid: 'bob', platform: 'android' });
  const ios = await client(connector(0), nsp, { uuid: 'bob-pad', userid: 'bob', platform: 'ios' });
  expect(await emitWithAck(web.socket, 'joinRoom', ['news', 'chat'])).toEqual({ status: 200, msg: 'ok' });
  expect(await emitWithAck(android.socket, 'joinRoom', ['news'])).toEqual({ status: 200, msg: 'ok' });
  expect(await emitWithAck(ios.socket, 'joinRoom', ['news', 'chat'])).toEqual({ status: 200, msg: 'ok' });
  await new Promise((resolve) => ios.socket.emit('info', { device_token: 'ab12' }, resolve));
  await new Promise((resolve) => ios.socket.emit('apns', { add: ['chat'] }, resolve));
  const online = [web, android, ios];

  for (const [room, leaveMessage, receivers] of [
    ['news', true, online],
    ['chat', false, [web, ios]],
    ['user_bob', true, [android, ios]],
  ] as const) {
    const received = receivers.map((c) => new Promise<{ id: number }>((resolve) => c.socket.once('push', resolve)));
    const id = await push(nsp, { room, pushData: { room }, leaveMessage });
    for (const [i, c] of receivers.entries()) c.socket.emit('ackPush', { id: (await received[i]!).id });
    await until(async () => ((await redis.hget(keys.message(nsp, id), 'ackCount')) === String(receivers.length) ? true : undefined));
    if (leaveMessage) await until(async () => (await redis.hget(keys.message(nsp, id), 'offline')) ?? undefined, 10_000);
  }
  // The offline member got the `news` push in its inbox.
  expect(await redis.zcard(keys.clientInbox(offline.id))).toBe(1);
  return online;
}

/** Switches a namespace offline and waits until the connectors dropped its sockets and recorded it. */
async function takeOffline(nsp: string, sockets: readonly Client[]): Promise<void> {
  const gone = sockets.map((c) => new Promise((resolve) => (c.socket.connected ? c.socket.once('disconnect', resolve) : resolve(undefined))));
  expect((await save({ key: nsp, offline: 'on' })).status).toBe(200);
  await Promise.all(gone);
  await until(async () => ((await redis.scard(keys.namespaceOnline(nsp))) === 0 ? true : undefined));
  for (const c of sockets) await until(async () => ((await redis.hget(keys.client(c.id), 'sid')) === null ? true : undefined));
}

// ------------------------------------------------------------------------------------ tests

describe('clear and flush', () => {
  const sockets = new Map<string, Client[]>();

  beforeAll(async () => {
    for (const nsp of ['/t', '/tt', '/t\\']) sockets.set(nsp, await populate(nsp));
  });

  test('refused while the namespace is online, and nothing changes', async () => {
    const before = await byNamespace();
    for (const [method, path] of [
      ['GET', '/api/admin/namespace/clear/t'],
      ['GET', '/api/admin/namespace/flush/%2Ft'],
      ['GET', '/api/admin/namespace/del/t?flushAll=true'],
      ['POST', '/api/admin/namespace/clear-realtime-data'],
      ['POST', '/api/admin/clear-legacy-client'],
    ] as const) {
      const response = await stack.api(path, { method, auth: ADMIN, ...(method === 'POST' ? { body: { namespace: '/t' } } : {}) });
      expect(response).toEqual({ status: 400, body: { code: 'NAMESPACE_MUST_BE_OFFLINE', msg: 'namespace must be set offline on' } });
    }
    const after = await byNamespace();
    for (const nsp of ['/t', '/tt', '/t\\']) expect(contents(after, nsp)).toEqual(contents(before, nsp));
  });

  test('clear deletes every key of /t but its settings, and not one key or value of /tt or /t\\', async () => {
    await takeOffline('/t', sockets.get('/t')!);
    const before = await byNamespace();
    const mine = keysOf(before, '/t');
    // Every kind of key is there to be deleted: messages, acks, history, counters, indexes, rooms, clients.
    for (const key of [
      keys.messageSeq('/t'),
      keys.history('/t'),
      keys.message('/t', 1),
      keys.acks('/t', 1, 'web'),
      keys.namespaceClients('/t'),
      keys.namespaceRooms('/t'),
      keys.roomMembers('/t', 'news'),
      keys.roomMembersBy('/t', 'user_bob', 'ios'),
      keys.client('/t#carol#android-carol-phone'),
      keys.clientRooms('/t#alice#web-alice-web'),
      keys.clientMuted('/t#bob#ios-bob-pad'),
      keys.clientInbox('/t#carol#android-carol-phone'),
    ]) {
      expect(mine).toContain(key);
    }
    expect(mine.some((key) => key.startsWith(keys.statPrefix('/t')))).toBe(true);

    const response = await stack.api('/api/admin/namespace/clear/t', { auth: ADMIN });
    // Everything but the settings and the message id counter (ids never restart).
    expect(response).toEqual({ status: 200, body: { deletedKeys: mine.length - 2 } });

    const after = await byNamespace();
    expect(keysOf(after, '/t').sort()).toEqual([keys.namespace('/t'), keys.messageSeq('/t')].sort());
    expect(after.get('/t')!.get(keys.messageSeq('/t'))).toEqual(before.get('/t')!.get(keys.messageSeq('/t')));
    expect(after.get('/t')!.get(keys.namespace('/t'))).toEqual(before.get('/t')!.get(keys.namespace('/t')));
    expect(await redis.zscore(keys.namespaceIndex(), '/t')).toBe('0');
    for (const nsp of ['/tt', '/t\\']) {
      expect(contents(after, nsp)).toEqual(contents(before, nsp));
      expect(keysOf(after, nsp).length).toBeGreaterThan(20);
    }
    expect((await connectorClients()).filter((cid) => cid.startsWith('/t#'))).toEqual([]);
  });

  test('a cleared namespace works again once back online', async () => {
    expect((await save({ key: '/t', offline: 'off' })).status).toBe(200);
    const c = await client(connector(0), '/t', { uuid: 'again' });
    await emitWithAck(c.socket, 'joinRoom', 'news');
    const received = new Promise((resolve) => c.socket.once('push', resolve));
    await push('/t', { room: 'news', pushData: { back: true } });
    expect(await received).toMatchObject({ namespace: '/t', room: 'news', pushData: { back: true } });
    const settings = await stack.api('/api/auth/namespace', { auth: basic('/t', PASSWORD) });
    expect(settings.body.apns_list).toEqual([{ name: 'app', apns_env: 'dev', apns_topic: 'com.example' }]);
    sockets.set('/t', [c]);
  });

  test('flush deletes /t\\ entirely but its id counter — settings and registry entry too — and nothing of /t or /tt', async () => {
    await takeOffline('/t\\', sockets.get('/t\\')!);
    const before = await byNamespace();
    const count = keysOf(before, '/t\\').length;
    expect(count).toBeGreaterThan(20);

    const response = await stack.api('/api/admin/namespace/flush/t%5C', { auth: ADMIN });
    expect(response).toEqual({ status: 200, body: { deletedKeys: count - 1 } });

    const after = await byNamespace();
    expect(keysOf(after, '/t\\')).toEqual([keys.messageSeq('/t\\')]);
    expect(await redis.zscore(keys.namespaceIndex(), '/t\\')).toBeNull();
    for (const nsp of ['/t', '/tt']) expect(contents(after, nsp)).toEqual(contents(before, nsp));
    expect(await stack.api('/api/auth/login', { method: 'POST', auth: basic('/t\\', PASSWORD) })).toEqual({
      status: 400,
      body: { code: 'NAMESPACE_NOT_FOUND', msg: 'namespace not found' },
    });
    expect((await connectError(connector(0), '/t\\', { uuid: 'late' })).message).toBe('this namespace not found');
  });

  test('the seed route del/:key clears, and flushes with flushAll=true', async () => {
    await takeOffline('/tt', sockets.get('/tt')!);
    const before = await byNamespace();
    const cleared = await stack.api('/api/admin/namespace/del/%2Ftt', { auth: ADMIN });
    expect(cleared).toEqual({ status: 200, body: { deletedKeys: keysOf(before, '/tt').length - 2 } });
    expect(keysOf(await byNamespace(), '/tt').sort()).toEqual([keys.namespace('/tt'), keys.messageSeq('/tt')].sort());

    expect(await stack.api('/api/admin/namespace/del/tt?flushAll=true', { auth: ADMIN })).toEqual({ status: 200, body: { deletedKeys: 1 } });
    const after = await byNamespace();
    expect(keysOf(after, '/tt')).toEqual([keys.messageSeq('/tt')]);
    expect(await redis.zscore(keys.namespaceIndex(), '/tt')).toBeNull();
    expect(contents(after, '/t')).toEqual(contents(before, '/t'));
  });
});

test('clear-realtime-data takes every client offline with reason "clear" and keeps their rooms', async () => {
  const nsp = '/rt';
  expect((await save({ key: nsp, auth_passwd: PASSWORD })).status).toBe(200);
  const web = await client(keeper.port, nsp, { uuid: 'w', userid: 'u1', platform: 'web' });
  const android = await client(keeper.port, nsp, { uuid: 'a', userid: 'u2', platform: 'android' });
  await emitWithAck(web.socket, 'joinRoom', ['r1']);
  await emitWithAck(android.socket, 'joinRoom', ['r1', 'r2']);
  const rooms = ['r1', 'r2', 'user_u1', 'user_u2'];
  const membership = async () =>
    Promise.all([
      ...rooms.flatMap((room) => [keys.roomMembers(nsp, room), keys.roomMembersBy(nsp, room, 'web'), keys.roomMembersBy(nsp, room, 'android')].map((k) => value(k))),
      ...[web.id, android.id].map((cid) => value(keys.clientRooms(cid))),
      value(keys.namespaceClients(nsp)),
      value(keys.namespaceRooms(nsp)),
    ]);
  const members = await membership();
  expect(await redis.smembers(keys.roomOnline(nsp, 'r1'))).toHaveLength(2);

  // This connector drops the sockets of an offline namespace after a random delay of up to an hour:
  // the online data is still there to clear a few milliseconds later.
  expect((await save({ key: nsp, offline: 'on' })).status).toBe(200);
  expect(await redis.scard(keys.namespaceOnline(nsp))).toBe(2);
  const at = Date.now();
  const response = await stack.api('/api/admin/namespace/clear-realtime-data', { auth: ADMIN, body: { namespace: nsp } });
  expect(response).toEqual({ status: 200, body: { clientCount: 2 } });

  for (const c of [web, android]) {
    const record = await redis.hgetall(keys.client(c.id));
    expect(record).toMatchObject({ disconnect_reason: 'clear', userid: expect.any(String) });
    expect(Number(record['last_disconnect_time'])).toBeGreaterThanOrEqual(at);
    expect(record).not.toHaveProperty('sid');
    expect(record).not.toHaveProperty('connector');
  }
  expect(await redis.exists(keys.namespaceOnline(nsp), keys.namespaceOnlineUsers(nsp))).toBe(0);
  for (const room of rooms) {
    const online = [keys.roomOnline(nsp, room), keys.roomOnlineUsers(nsp, room), ...(['web', 'android', 'ios'] as const).map((p) => keys.roomOnlineBy(nsp, room, p))];
    expect(await redis.exists(...online)).toBe(0);
  }
  expect(await membership()).toEqual(members);
  expect(await connectorClients()).not.toEqual(expect.arrayContaining([web.id]));
  expect(await connectorClients()).not.toEqual(expect.arrayContaining([android.id]));
  expect((await stack.api(`/api/admin/report/online?namespace=${encodeURIComponent(nsp)}`, { auth: ADMIN })).body).toMatchObject({
    roomCount: 0,
    userCount: 0,
    clientCount: 0,
    totalClientCount: 2,
  });
});

test('clear-legacy-client forgets the clients not seen for HERALD_LEGACY_CLIENT_HOURS, and only them', async () => {
  const nsp = '/lg';
  expect((await save({ key: nsp, auth_passwd: PASSWORD })).status).toBe(200);
  const member = async (uuid: string, userid: string, platform: 'web' | 'android' | 'ios', rooms: string[]) => {
    const c = await client(connector(0), nsp, { uuid, userid, platform });
    await emitWithAck(c.socket, 'joinRoom', rooms);
    if (platform === 'ios') await new Promise((resolve) => c.socket.emit('apns', { add: rooms }, resolve));
    const gone = new Promise((resolve) => c.socket.once('disconnect', resolve));
    c.socket.close();
    await gone;
    await until(async () => ((await redis.hget(keys.client(c.id), 'sid')) === null ? true : undefined));
    return c.id;
  };
  const old1 = await member('o1', 'old1', 'web', ['shared']);
  const old2 = await member('o2', 'old2', 'android', ['shared', 'solo']);
  const old3 = await member('o3', 'old2', 'ios', ['shared']);
  const recent = await member('n1', 'new1', 'web', ['shared']);
  // The solo room's push puts a message in old2's inbox.
  const id = await push(nsp, { room: 'solo', pushData: {}, leaveMessage: true });
  await until(async () => (await redis.hget(keys.message(nsp, id), 'offline')) ?? undefined, 10_000);
  expect(await redis.zcard(keys.clientInbox(old2))).toBe(1);

  // Time passes: the old clients last connected two hours ago, the recent one half an hour ago.
  const now = Date.now();
  await redis.zadd(keys.namespaceClients(nsp), now - 2 * HOUR, old1, now - 2 * HOUR + 1, old2, now - 2 * HOUR + 2, old3, now - HOUR / 2, recent);
  const recentKeys = await Promise.all([keys.client(recent), keys.clientRooms(recent)].map((k) => value(k)));
  expect((await save({ key: nsp, offline: 'on' })).status).toBe(200);

  const response = await stack.api('/api/admin/clear-legacy-client', { auth: ADMIN, body: { namespace: nsp } });
  expect(response).toEqual({ status: 200, body: [old1, old2, old3] });

  for (const cid of [old1, old2, old3]) {
    expect(await redis.exists(keys.client(cid), keys.clientRooms(cid), keys.clientMuted(cid), keys.clientInbox(cid))).toBe(0);
  }
  expect((await redis.smembers(keys.roomMembers(nsp, 'shared'))).sort()).toEqual([recent]);
  for (const platform of ['web', 'android', 'ios'] as const) {
    expect(await redis.smembers(keys.roomMembersBy(nsp, 'shared', platform))).toEqual(platform === 'web' ? [recent] : []);
  }
  // Rooms left empty (solo, the old users' rooms) leave the index; the others stay.
  expect((await redis.smembers(keys.namespaceRooms(nsp))).sort()).toEqual(['shared', 'user_new1']);
  expect(await redis.exists(keys.roomMembers(nsp, 'solo'), keys.roomMembers(nsp, 'user_old1'), keys.roomMembers(nsp, 'user_old2'))).toBe(0);
  expect(await redis.zrange(keys.namespaceClients(nsp), 0, -1)).toEqual([recent]);
  expect(await Promise.all([keys.client(recent), keys.clientRooms(recent)].map((k) => value(k)))).toEqual(recentKeys);
  expect(await redis.smembers(keys.roomMembers(nsp, 'user_new1'))).toEqual([recent]);

  // Nothing is legacy any more.
  expect(await stack.api('/api/admin/clear-legacy-client', { auth: ADMIN, body: { namespace: nsp } })).toEqual({ status: 200, body: [] });
});
