/**
 * The roomsync protocol (seed 000 "Always Online", issue 17) end to end on real processes: two
 * connectors serving seed clients (socket.io-client v2) on the root namespace of `/socket.io`,
 * logic with the seed's REST API, a worker, and a Redis of the test's own. Every event, text and
 * code of the seed, kickout and rosters across connectors, and sync paging over 1 000 messages.
 */
import { gunzipSync } from 'node:zlib';
import { Keys, RoomsyncKeys } from '@herald/store';
import { startService, until, type ServiceProcess } from '@herald/test-support';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { closeSeedClients, seedClient, type SeedClient } from './support/roomsync-client';
import { ADMIN, startStack, type Stack } from './support/stack';

let stack: Stack;
let worker: ServiceProcess;
let redis: Redis;
const keys = new Keys('h:');
const rk = new RoomsyncKeys(keys);
const NS = '/rs';
const ADMIN_Q = 'uid=ops&token=ops-secret-token';

async function saveNamespace(body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return stack.api('/api/admin/namespace/save', { auth: ADMIN, body });
}

/** A call of the seed's REST API with the namespace's admin credentials. */
async function rest(path: string, body?: unknown, query = ADMIN_Q): Promise<{ status: number; body: any }> {
  return stack.api(`${path}${path.includes('?') ? '&' : '?'}${query}`, body === undefined ? {} : { body });
}

async function token(uid: string): Promise<string> {
  const created = await rest('/user/create_token', { uid });
  if (created.body.meta.status === 0) return created.body.data.token;
  return (await rest('/user/refresh_token', { uid })).body.data.token;
}

/** A seed client on connector `i` (of the stack, or a connector started later), authenticated as `uid`. */
async function user(i: number | ServiceProcess, uid: string): Promise<SeedClient> {
  const c = await seedClient(typeof i === 'number' ? stack.connectors[i]!.port : i.port);
  expect(await c.auth(uid, await token(uid))).toEqual({ status: 0, data: 'auth success' });
  return c;
}

/** A seed client on connector `i`, authenticated as `uid` and in `room` (its join answered). */
async function member(i: number | ServiceProcess, uid: string, room: unknown, dummy?: boolean): Promise<SeedClient> {
  const c = await user(i, uid);
  expect(await c.join(room, dummy)).toEqual({ status: 0, data: 'join success' });
  return c;
}

/**
 * Waits until `observer` got the msg `marker` sent by `sender` now: relays and room notices of one
 * connector travel the same adapter channel in order, so whatever the sender's connector sent the
 * observer before it has arrived too. Used to prove that an event did NOT come.
 */
async function barrier(sender: SeedClient, observer: SeedClient, marker: string): Promise<void> {
  const seen = new Promise<void>((resolve) => {
    const check = () => (observer.all('msg').some((m) => m?.data === marker) ? resolve() : setTimeout(check, 10));
    check();
  });
  sender.emit('msg', { data: marker, storage: 2, msgId: marker });
  await seen;
}

const events = (c: SeedClient, ...names: string[]) => c.events.filter((e) => names.includes(e.event));

beforeAll(async () => {
  stack = await startStack({
    connectors: 2,
    // The seed's clients connect to `/` on the default path `/socket.io`; 1 MiB frames let the
    // 500 KB message limit answer instead of socket.io closing the connection.
    // A fast heartbeat: the crash test waits for the reaper.
    env: { HERALD_SOCKET_PATHS: '/socket.io=/rs', HERALD_MAX_PAYLOAD_BYTES: String(1024 * 1024), HERALD_WORKER_PORT: '0', HERALD_CONNECTOR_HEARTBEAT_MS: '200' },
  });
  worker = await startService('worker', { env: stack.env });
  redis = new Redis(stack.redis.url);
  const saved = await saveNamespace({ key: NS, auth_passwd: 'pw', protocol: 'roomsync', settings: { admin_uid: 'ops', admin_token: 'ops-secret-token' } });
  // A namespace with a short timeout, asked for by name on the same path (only `/` is mapped).
  expect((await saveNamespace({ key: '/rs-quick', protocol: 'roomsync', settings: { auth_timeout_ms: 1500 } })).status).toBe(200);
  expect(saved).toEqual({ status: 200, body: {} });
}, 60_000);

// Every test starts with nobody online: the clients of the one before are gone everywhere.
afterEach(async () => {
  closeSeedClients();
  await until(async () => ((await rest('/admin/monitor/stat')).body.data.online_user_count === 0 ? true : undefined), 10_000);
});

afterAll(async () => {
  closeSeedClients();
  await redis.quit();
  expect(await worker.stop()).toBe(0);
  // Logic and the two connectors exit cleanly; the crash test's connector was SIGKILLed (null).
  const codes = await stack.stop();
  expect(codes.slice(0, 3)).toEqual([0, 0, 0]);
  expect(codes.slice(3).every((code) => code === null)).toBe(true);
});

describe('namespace settings', () => {
  test('a setting of the wrong shape or unknown is PROTOCOL_SETTINGS_INVALID and changes nothing', async () => {
    for (const settings of [{ auth_timeout_ms: 'soon' }, { max_message_bytes: 0 }, { force_user_auth: 'yes' }, { history_max_age_s: 1 }, { nickname: 'x' }]) {
      const answer = await saveNamespace({ key: NS, settings });
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe('PROTOCOL_SETTINGS_INVALID');
    }
    const list = await stack.api(`/api/admin/namespace/list?key=${NS}`, { auth: ADMIN });
    expect(list.body.list[0].settings).toEqual({ admin_uid: 'ops', admin_token_set: true });
    // The admin token is stored hashed, never as given.
    expect(await redis.hget('h:ns:/rs', 'protocol_settings')).not.toContain('ops-secret-token');
  });
});

describe('authentication', () => {
  test('a seed client on `/` of /socket.io authenticates with its token', async () => {
    const c = await seedClient(stack.connectors[0]!.port);
    expect(await c.auth('1000', await token('1000'))).toEqual({ status: 0, data: 'auth success' });
    c.close();
  });

  test('a stock socket.io v4 client is served the same way', async () => {
    const socket = io(`http://127.0.0.1:${stack.connectors[1]!.port}`, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true });
    const secret = await token('v4user');
    const answer = new Promise((resolve) => socket.once('authenticate', resolve));
    socket.emit('authenticate', { uid: 'v4user', token: secret });
    expect(await answer).toEqual({ status: 0, data: 'auth success' });
    const joined = new Promise((resolve) => socket.once('join', resolve));
    socket.emit('join', { roomId: 1000 });
    expect(await joined).toEqual({ status: 0, data: 'join success' });
    socket.close();
  });

  test('a wrong token, an unknown uid or a malformed authenticate: the seed text, then disconnect', async () => {
    await token('1001');
    for (const payload of [{ uid: '1001', token: 'wrong' }, { uid: 'nobody', token: 'x' }, { uid: { $ne: 1 }, token: 'x' }, 'garbage', null]) {
      const c = await seedClient(stack.connectors[1]!.port);
      const gone = c.next('disconnect');
      c.emit('authenticate', payload);
      expect(await c.next('authenticate')).toEqual({ status: 1, data: 'auth failed, uid or token is wrong' });
      await gone;
    }
  });

  test('no authenticate within auth_timeout_ms: authentication timeout, then disconnect', async () => {
    const c = await seedClient(stack.connectors[0]!.port, '/socket.io', '/rs-quick');
    const started = Date.now();
    expect(await c.next('authenticate', 5000)).toEqual({ status: 1, data: 'authentication timeout' });
    await c.nth('disconnect', 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  test('events before authentication are ignored', async () => {
    const c = await seedClient(stack.connectors[0]!.port);
    c.emit('join', { roomId: 'early' });
    c.emit('sync', { offset: 0 });
    c.emit('msg', { data: 1, storage: 0, msgId: 'a' });
    expect(await c.auth('1002', await token('1002'))).toEqual({ status: 0, data: 'auth success' });
    // The sync answered after authentication is the first event besides `authenticate`.
    c.emit('sync', { offset: 0 });
    expect(await c.next('sync')).toEqual({ data: [], offset: 0, next: 0 });
    expect(c.events.map((e) => e.event)).toEqual(['authenticate', 'sync']);
    expect(await redis.exists(rk.inserts(NS, 'early'))).toBe(0);
    c.close();
  });

  test('more than 30 authentications a minute of one uid: reach rate limit', async () => {
    const secret = await token('busy');
    for (let i = 0; i < 30; i++) {
      const c = await seedClient(stack.connectors[i % 2]!.port);
      expect(await c.auth('busy', secret)).toEqual({ status: 0, data: 'auth success' });
      c.close();
    }
    const c = await seedClient(stack.connectors[0]!.port);
    const gone = c.next('disconnect');
    expect(await c.auth('busy', secret)).toEqual({ status: 1, data: 'reach rate limit' });
    await gone;
  });

  test('force_user_auth off (POST /admin/system/config): any token passes; on again: checked', async () => {
    expect((await rest('/admin/system/config', { forceUserAuth: false })).body).toEqual({ meta: { status: 0, msg: 'success' }, data: {} });
    const loose = await seedClient(stack.connectors[1]!.port);
    expect(await loose.auth(777, '0000')).toEqual({ status: 0, data: 'auth success' });
    expect((await rest('/admin/system/config', { forceUserAuth: true })).body.meta.status).toBe(0);
    const strict = await seedClient(stack.connectors[1]!.port);
    expect(await strict.auth(778, '0000')).toEqual({ status: 1, data: 'auth failed, uid or token is wrong' });
    expect((await rest('/admin/system/config', { forceUserAuth: 'maybe' })).body.meta).toEqual({ status: 5, msg: 'param error' });
    loose.close();
  });
});

describe('rooms across connectors', () => {
  test('join: remote_join to the room, and the joiner gets one remote_join per other user on any connector', async () => {
    const a = await member(0, 'ra', 'r1');
    const b = await member(1, 'rb', 'r1');
    expect(await a.nth('remote_join', 1)).toEqual({ uid: 'rb' });
    expect(await b.nth('remote_join', 1)).toEqual({ uid: 'ra' });
    const c = await member(0, 'rc', 'r1');
    await c.nth('remote_join', 2);
    expect(c.all('remote_join').sort((x, y) => x.uid.localeCompare(y.uid))).toEqual([{ uid: 'ra' }, { uid: 'rb' }]);
    expect(await b.nth('remote_join', 2)).toEqual({ uid: 'rc' });
  });

  test('join without a roomId: join failed, require roomId', async () => {
    const c = await user(0, 'nr');
    for (const payload of [{}, { roomId: '' }, { roomId: null }, { roomId: { a: 1 } }, 'x']) {
      const answer = c.next('join');
      c.emit('join', payload);
      expect(await answer).toEqual({ status: 1, data: 'join failed, require roomId' });
    }
    c.close();
  });

  test('a dummy is invisible: no remote_join, not in rosters, cannot send, leaves silently', async () => {
    const a = await member(0, 'da', 'd1');
    const spy = await member(1, 'dspy', 'd1', true);
    expect(await spy.nth('remote_join', 1)).toEqual({ uid: 'da' });
    const b = await member(1, 'db', 'd1');
    expect(await b.nth('remote_join', 1)).toEqual({ uid: 'da' });
    spy.emit('msg', { data: 'from the dummy', storage: 0, msgId: 'x' });
    spy.emit('sync', { offset: 0 });
    await spy.next('sync');
    spy.close();
    await barrier(b, a, 'after-dummy');
    expect(events(a, 'remote_join', 'remote_leave', 'remote_disconnect', 'remote_sync')).toEqual([{ event: 'remote_join', data: { uid: 'db' } }]);
    expect(a.all('msg').map((m) => m.data)).toEqual(['after-dummy']);
    // Nothing the dummy sent was stored.
    expect((await rest('/admin/monitor/room_msgs?roomId=d1')).body.data.msgs.data).toEqual([]);
    a.close();
    b.close();
  });

  test('leave: remote_leave and remote_disconnect to the room, and the leaver is disconnected', async () => {
    const a = await member(0, 'la', 'l1');
    const b = await member(1, 'lb', 'l1');
    const gone = b.next('disconnect');
    b.emit('leave');
    await gone;
    expect(await a.nth('remote_leave', 1)).toEqual({ uid: 'lb' });
    expect(await a.nth('remote_disconnect', 1)).toEqual({ uid: 'lb' });
    expect((await rest('/admin/monitor/room_users?roomId=l1')).body.data).toEqual({ users: [{ uid: 'la' }] });
    const c = await member(1, 'lc', 'l1');
    c.close();
    expect(await a.nth('remote_disconnect', 2)).toEqual({ uid: 'lc' });
    expect(a.all('remote_leave')).toHaveLength(1);
    a.close();
  });

  test('one session per uid across connectors: kickout 0, nothing announced about the swap', async () => {
    const watcher = await member(1, 'kw', 'k1');
    const old = await member(0, 'ku', 'k1');
    expect(await watcher.nth('remote_join', 1)).toEqual({ uid: 'ku' });
    const oldGone = old.next('disconnect');
    const fresh = await member(1, 'ku', 'k1');
    expect(await old.nth('kickout', 1)).toBe(0);
    await oldGone;
    expect(await fresh.nth('remote_join', 1)).toEqual({ uid: 'kw' });
    await barrier(fresh, watcher, 'after-kick');
    expect(events(watcher, 'remote_join', 'remote_leave', 'remote_disconnect')).toEqual([{ event: 'remote_join', data: { uid: 'ku' } }]);
    expect((await rest('/admin/monitor/room_users?roomId=k1')).body.data.users.sort((x: any, y: any) => x.uid.localeCompare(y.uid))).toEqual([{ uid: 'ku' }, { uid: 'kw' }]);
    // The newcomer is a full member: its messages reach the room, and its disconnect is announced.
    fresh.close();
    expect(await watcher.nth('remote_disconnect', 1)).toEqual({ uid: 'ku' });
    watcher.close();
  });
});

describe('protocol violations', () => {
  test('malformed payloads of every event: refused or ignored, nothing relayed or stored, no process hurt', async () => {
    const a = await member(0, 'va', 'v1');
    const b = await member(1, 'vb', 'v1');
    await b.nth('remote_join', 1);
    // 100 levels: deeper than Herald keeps (64), within what socket.io's decoder takes.
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = { d: deep };
    for (const payload of [null, 42, 'text', [], [1, 2], true, Buffer.from('binary')]) {
      a.emit('msg', payload);
      a.emit('join', payload);
      a.emit('authenticate', payload);
    }
    a.emit('msg', { data: deep, storage: 0, msgId: 'deep' });
    expect(await a.nth('msg', 1)).toEqual({ status: 1, data: 'msg too deep' });
    await a.nth('join', 8);
    expect(a.all('join').slice(1)).toEqual(Array(7).fill({ status: 1, data: 'join failed, require roomId' }));
    for (const offset of [-5, 'abc', {}, [], null, 1e20, '7e3']) {
      const page = a.next('sync');
      a.emit('sync', { offset });
      expect(await page).toEqual({ data: [], offset: expect.any(Number), next: 0 });
    }
    a.emit('sync', 'not an object');
    expect(await a.next('sync')).toEqual({ data: [], offset: 0, next: 0 });
    // The join failures left the client in its room: it still relays, and nothing else was relayed or stored.
    await barrier(a, b, 'after-violations');
    expect(b.all('msg').map((m) => m.data)).toEqual(['after-violations']);
    expect(await redis.llen(rk.inserts(NS, 'v1'))).toBe(0);
    expect(a.all('authenticate')).toHaveLength(1);
    for (const service of [stack.logic, ...stack.connectors]) expect(service.logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
  });
});

describe('a connector crash', () => {
  test('the users of a SIGKILLed connector leave rosters and stat once the reaper has run, and their rooms get remote_disconnect on every connector', async () => {
    const doomed = await stack.startConnector();
    const watcher = await member(0, 'cw', 'x1');
    const other = await member(1, 'co', 'x1');
    const victim = await member(doomed, 'cv', 'x1');
    const peeper = await member(doomed, 'cp', 'x1', true);
    expect(await watcher.nth('remote_join', 2)).toEqual({ uid: 'cv' });
    expect(await other.nth('remote_join', 2)).toEqual({ uid: 'cv' });
    await doomed.stop('SIGKILL');
    await until(async () => ((await redis.hget(keys.client(`${NS}#cv#web-cv`), 'disconnect_reason')) === 'connector lost' ? true : undefined), 10_000);
    // The reaper (on either connector) announces the user to its room on both connectors, once;
    // the dummy is not announced.
    expect(await watcher.nth('remote_disconnect', 1)).toEqual({ uid: 'cv' });
    expect(await other.nth('remote_disconnect', 1)).toEqual({ uid: 'cv' });
    await barrier(watcher, other, 'after-reap');
    expect(watcher.all('remote_disconnect')).toEqual([{ uid: 'cv' }]);
    expect(other.all('remote_disconnect')).toEqual([{ uid: 'cv' }]);
    expect((await rest('/admin/monitor/room_users?roomId=x1')).body.data.users.map((u: any) => u.uid).sort()).toEqual(['co', 'cw']);
    const late = await member(1, 'cl', 'x1');
    await barrier(watcher, late, 'after-crash');
    expect(late.all('remote_join').sort((x, y) => x.uid.localeCompare(y.uid))).toEqual([{ uid: 'co' }, { uid: 'cw' }]);
    expect((await rest('/admin/monitor/stat')).body.data.online_users.map((u: any) => u.uid).sort()).toEqual(['cl', 'co', 'cw']);
    victim.close();
    peeper.close();
  });
});

describe('messages and sync', () => {
  test('msg: relayed with the uid to the room minus the sender on both connectors; stored by kind', async () => {
    const a = await member(0, 'ma', 'm1');
    const b = await member(1, 'mb', 'm1');
    const c = await member(0, 'mc', 'm1');
    const sent = [
      { data: { x: 1 }, storage: 0, msgId: 'i1' },
      { data: { pos: 1 }, storage: 1, msgId: 'cursor' },
      { data: 'note', storage: 2, msgId: 'n' },
      { data: { pos: 2 }, storage: 1, msgId: 'cursor' },
      { data: 'odd', storage: 9, msgId: 'i2' },
      // HEAD's compact form: `s` is the storage, `1` the msgId; the uid goes to `2`.
      { s: 1, 1: 'touch', data: 'compact' },
    ];
    for (const m of sent) a.emit('msg', m);
    await b.nth('msg', sent.length);
    await c.nth('msg', sent.length);
    const expected = [
      { data: { x: 1 }, storage: 0, msgId: 'i1', uid: 'ma' },
      { data: { pos: 1 }, storage: 1, msgId: 'cursor', uid: 'ma' },
      { data: 'note', storage: 2, msgId: 'n', uid: 'ma' },
      { data: { pos: 2 }, storage: 1, msgId: 'cursor', uid: 'ma' },
      { data: 'odd', storage: 9, msgId: 'i2', uid: 'ma' },
      { s: 1, 1: 'touch', 2: 'ma', data: 'compact' },
    ];
    expect(b.all('msg')).toEqual(expected);
    expect(c.all('msg')).toEqual(expected);
    expect(a.all('msg')).toEqual([]);
    // Inserts (and invalid kinds) in order, then the last value of each update; ignored never synced.
    b.emit('sync', { offset: 0 });
    expect(await b.next('sync')).toEqual({ data: [expected[0], expected[4], expected[3], expected[5]], offset: 4, next: 0 });
    expect(await a.nth('remote_sync', 1)).toEqual({ uid: 'mb' });
    expect(await redis.llen(rk.ignored(NS, 'm1'))).toBe(1);
    const detail = (await rest('/admin/monitor/room_msgs?roomId=m1')).body;
    expect(detail.meta).toEqual({ status: 0, msg: 'success' });
    expect(detail.data.msgs.data[0]).toEqual({ data: expected[0], ts: expect.any(Number), uid: 'ma' });
    expect(Math.abs(detail.data.msgs.data[0].ts - Date.now() / 1000)).toBeLessThan(60);
    for (const x of [a, b, c]) x.close();
  });

  test('a msg over max_message_bytes (500 KB) is answered status 1, neither relayed nor stored', async () => {
    const a = await member(0, 'big', 'b1');
    const b = await member(1, 'bigw', 'b1');
    a.emit('msg', { data: 'x'.repeat(600 * 1024), storage: 0, msgId: 'huge' });
    expect(await a.next('msg')).toEqual({ status: 1, data: 'msg too large' });
    await barrier(a, b, 'after-huge');
    expect(b.all('msg').map((m) => m.data)).toEqual(['after-huge']);
    expect(await redis.llen(rk.inserts(NS, 'b1'))).toBe(0);
    a.close();
    b.close();
  });

  test('sync pages 1 000 inserts by 200 with the updates on the last page; gzip; offset 0 announces', async () => {
    const writer = await member(0, 'sw', 's1');
    const reader = await member(1, 'sr', 's1');
    for (let i = 0; i < 1000; i++) writer.emit('msg', { data: i, storage: 0, msgId: `m${i}` });
    writer.emit('msg', { data: 'u1', storage: 1, msgId: 'A' });
    writer.emit('msg', { data: 'u2', storage: 1, msgId: 'B' });
    writer.emit('msg', { data: 'u3', storage: 1, msgId: 'A' });
    await reader.nth('msg', 1003, 30_000);
    const pages: any[] = [];
    let offset: number | string = 0;
    for (;;) {
      const answer = reader.next('sync');
      reader.emit('sync', { offset });
      const page = await answer;
      pages.push(page);
      if (page.next === 0) break;
      // A string offset (the seed's clients sent what they got back, or a form value) works too.
      offset = pages.length % 2 ? String(page.offset) : page.offset;
    }
    expect(pages.map((p) => [p.data.length, p.offset, p.next])).toEqual([
      [200, 200, 1],
      [200, 400, 1],
      [200, 600, 1],
      [200, 800, 1],
      [200, 1000, 1],
      [2, 1002, 0],
    ]);
    expect(pages.slice(0, 5).flatMap((p) => p.data.map((m: any) => m.data))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(pages[5].data).toEqual([
      { data: 'u2', storage: 1, msgId: 'B', uid: 'sw' },
      { data: 'u3', storage: 1, msgId: 'A', uid: 'sw' },
    ]);
    // Only the offset-0 request announced the sync.
    expect(writer.all('remote_sync')).toEqual([{ uid: 'sr' }]);
    const zipped = reader.next('sync');
    reader.emit('sync', { offset: 990, encoding: 'gzip' });
    const gz = await zipped;
    expect(gz).toEqual({ data: expect.any(String), offset: 1002, next: 0, encoding: 'gzip' });
    expect(JSON.parse(gunzipSync(Buffer.from(gz.data, 'base64')).toString()).map((m: any) => m.data)).toEqual([990, 991, 992, 993, 994, 995, 996, 997, 998, 999, 'u2', 'u3']);
    expect(writer.all('remote_sync')).toHaveLength(1);
    writer.close();
    reader.close();
  }, 60_000);

  test('retention: history_max_messages keeps the newest; the room expires after history_max_age_s', async () => {
    expect((await saveNamespace({ key: NS, settings: { history_max_messages: 5, history_max_age_s: 3600 } })).status).toBe(200);
    const a = await member(0, 'keep', 'h1');
    for (let i = 0; i < 8; i++) a.emit('msg', { data: i, storage: 0, msgId: `k${i}` });
    a.emit('sync', { offset: 0 });
    const page = await a.next('sync');
    expect(page.data.map((m: any) => m.data)).toEqual([3, 4, 5, 6, 7]);
    const ttl = await redis.pttl(rk.inserts(NS, 'h1'));
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect((await saveNamespace({ key: NS, settings: { history_max_messages: null, history_max_age_s: null } })).status).toBe(200);
    a.close();
  });
});

describe('REST API (seed envelope)', () => {
  test('tokens: create, exists (2), refresh (old token stops working), unknown (6), param error (5)', async () => {
    const created = await rest('/user/create_token', { uid: '5000' });
    expect(created).toEqual({ status: 200, body: { meta: { status: 0, msg: 'success' }, data: { uid: '5000', token: expect.stringMatching(/^[A-Za-z0-9]{24}$/) } } });
    expect((await rest('/user/create_token', { uid: '5000' })).body).toEqual({ meta: { status: 2, msg: 'user exists, please use refresh token api' }, data: {} });
    const refreshed = await rest('/user/refresh_token', { uid: '5000' });
    expect(refreshed.body.meta.status).toBe(0);
    expect(refreshed.body.data.token).not.toBe(created.body.data.token);
    const stale = await seedClient(stack.connectors[0]!.port);
    expect(await stale.auth('5000', created.body.data.token)).toEqual({ status: 1, data: 'auth failed, uid or token is wrong' });
    const current = await seedClient(stack.connectors[0]!.port);
    expect(await current.auth('5000', refreshed.body.data.token)).toEqual({ status: 0, data: 'auth success' });
    current.close();
    expect((await rest('/user/refresh_token', { uid: 'ghost' })).body).toEqual({ meta: { status: 6, msg: 'user not exists' }, data: { uid: 'ghost' } });
    expect((await rest('/user/create_token', {})).body).toEqual({ meta: { status: 5, msg: 'param error' }, data: {} });
    // The token is stored as a digest, never in clear.
    expect(await redis.hget(rk.tokens(NS), '5000')).not.toBe(refreshed.body.data.token);
  });

  test('missing or wrong admin credentials: 1 require permission (HTTP 200), nothing done', async () => {
    for (const query of ['', 'uid=ops', 'uid=ops&token=wrong', 'uid=other&token=ops-secret-token']) {
      const answer = await rest('/user/create_token', { uid: 'never' }, query);
      expect(answer).toEqual({ status: 200, body: { meta: { status: 1, msg: 'require permission' }, data: {} } });
      expect((await rest('/admin/monitor/stat', undefined, query)).body.meta.status).toBe(1);
    }
    expect(await redis.hexists(rk.tokens(NS), 'never')).toBe(0);
  });

  test('20 failed authentications a minute from one address: then even the right credentials get 1', async () => {
    await redis.del(keys.authFailures('127.0.0.1'));
    for (let i = 0; i < 20; i++) expect((await rest('/admin/monitor/stat', undefined, `uid=ops&token=guess${i}`)).body.meta.status).toBe(1);
    expect((await rest('/admin/monitor/stat')).body.meta).toEqual({ status: 1, msg: 'require permission' });
    // The window (60 s) is the Basic-auth routes' one; the test ends it instead of waiting.
    await redis.del(keys.authFailures('127.0.0.1'));
    expect((await rest('/admin/monitor/stat')).body.meta.status).toBe(0);
  });

  test('a malformed body is 5 param error with HTTP 200; form bodies are accepted', async () => {
    const response = await fetch(`http://127.0.0.1:${stack.logic.port}/user/create_token?${ADMIN_Q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"uid":' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ meta: { status: 5, msg: 'param error' }, data: {} });
    const form = await fetch(`http://127.0.0.1:${stack.logic.port}/user/create_token?${ADMIN_Q}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'uid=6000' });
    expect(await form.json()).toEqual({ meta: { status: 0, msg: 'success' }, data: { uid: '6000', token: expect.any(String) } });
  });

  test('stat and room_users count users and rooms on every connector', async () => {
    const a = await member(0, 'sa', 'st1');
    const b = await member(1, 'sb', 'st1');
    const c = await member(1, 'sc', 'st2', true);
    const stat = (await rest('/admin/monitor/stat')).body;
    expect(stat.meta).toEqual({ status: 0, msg: 'success' });
    expect(stat.data).toMatchObject({ online_user_count: 3, online_room_count: 2, online_socket_count: 3, online_rooms: ['st1', 'st2'], force_user_auth: true });
    expect(stat.data.online_users.map((u: any) => u.uid).sort()).toEqual(['sa', 'sb', 'sc']);
    expect(stat.data.config).toEqual({ auth_timeout_ms: 10000, max_message_bytes: 512000, auth_rate_limit: 30, history_max_messages: 10000, history_max_age_s: 2592000 });
    expect(JSON.stringify(stat.data)).not.toContain('ops-secret-token');
    expect((await rest('/admin/monitor/room_users?roomId=st2')).body.data).toEqual({ users: [{ uid: 'sc', dummy: true }] });
    expect((await rest('/admin/monitor/room_users?roomId=nowhere')).body.data).toEqual({ users: [] });
    expect((await rest('/admin/monitor/room_users')).body.meta).toEqual({ status: 5, msg: 'param error' });
    for (const x of [a, b, c]) x.close();
  });

  test('system push: `system <content>` to the room on every connector; 7 for an empty room, 5 without roomId', async () => {
    const a = await member(0, 'pa', 'p1');
    const b = await member(1, 'pb', 'p1');
    expect((await rest('/admin/system/push', { roomId: 'p1', content: 'maintenance at noon' })).body).toEqual({ meta: { status: 0, msg: 'success' }, data: {} });
    expect(await a.nth('system', 1)).toBe('maintenance at noon');
    expect(await b.nth('system', 1)).toBe('maintenance at noon');
    expect((await rest('/admin/system/push?roomId=p1', { content: { level: 2 } })).body.meta.status).toBe(0);
    expect(await b.nth('system', 2)).toEqual({ level: 2 });
    expect((await rest('/admin/system/push', { roomId: 'empty', content: 'x' })).body).toEqual({ meta: { status: 7, msg: 'room not exists' }, data: {} });
    expect((await rest('/admin/system/push', { content: 'x' })).body.meta).toEqual({ status: 5, msg: 'param error' });
    a.close();
    b.close();
  });

  test('clear_room_msg and clear_room_msgs remove the room history', async () => {
    const a = await member(0, 'ca', 'c1');
    a.emit('msg', { data: 1, storage: 0, msgId: 'x' });
    a.emit('msg', { data: 2, storage: 1, msgId: 'y' });
    a.emit('sync', { offset: 0 });
    expect((await a.next('sync')).data).toHaveLength(2);
    expect((await rest('/admin/system/clear_room_msg', { roomId: 'c1' })).body.meta.status).toBe(0);
    expect((await rest('/admin/monitor/room_msgs?roomId=c1')).body.data).toEqual({ msgs: { data: [], offset: 0, next: 0 } });
    a.emit('msg', { data: 3, storage: 0, msgId: 'z' });
    a.emit('sync', { offset: 0 });
    expect((await a.next('sync')).data).toHaveLength(1);
    expect((await rest('/admin/system/clear_room_msgs?roomId=c1', {})).body.meta.status).toBe(0);
    a.emit('sync', { offset: 0 });
    expect((await a.next('sync')).data).toEqual([]);
    expect((await rest('/admin/system/clear_room_msgs', {})).body.meta).toEqual({ status: 5, msg: 'param error' });
    a.close();
  });
});
