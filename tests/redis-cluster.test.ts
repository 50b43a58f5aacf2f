/**
 * The whole stack on a local Redis Cluster (issue 8, item 4): three masters made with
 * `redis-server --cluster-enabled` and `redis-cli --cluster create`, two connectors, logic and a
 * worker as real processes with HERALD_REDIS_URL set to the node list. Everything a user does —
 * connect, rooms, push, ack, report, offline inbox, APNs (through the mock), namespace clean-ups —
 * crosses the cluster: the sharded socket.io adapter and Herald's sharded emitter, BullMQ under its
 * hash-tagged prefix, every Lua script (each one runs here, see the last test), and the SCAN of
 * every master.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { Keys, WebserviceStore, readScripts } from '@herald/store';
import { REPO_ROOT, startApnsMock, startService, until, type ApnsMock, type ServiceProcess, type TestRedisCluster } from '@herald/test-support';
import { io } from 'socket.io-client';
import { basic, connectClient, emitWithAck, type TestSocket } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';
import { send, startSite, wsConnect } from './support/webservice';

const slot: (key: string) => number = require('cluster-key-slot');

const TOPIC = 'com.herald.cluster';
const PASSWORD = 'cluster-pw';
const AUTH = basic('/cl', PASSWORD);
const keys = new Keys('h:', { cluster: true });
let stack: Stack<TestRedisCluster>;
let worker: ServiceProcess;
let mock: ApnsMock;
let redis: Cluster;

beforeAll(async () => {
  mock = await startApnsMock({ topics: [TOPIC] });
  stack = await startStack({
    cluster: true,
    connectors: 2,
    env: { HERALD_OFFLINE_DELAY_MS: '300', HERALD_NAMESPACE_OFFLINE_DELAY_MS: '0', HERALD_SOCKET_PATHS: '/socket.io,/socket=/cl' },
  });
  worker = await startService('worker', {
    env: { ...stack.env, HERALD_APNS_HOST: '127.0.0.1', HERALD_APNS_PORT: String(mock.port), HERALD_APNS_CA: mock.caFile },
  });
  redis = new Cluster(stack.redis.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
  await redis.ping(); // the slot map (redis.slots) is known from here on
  const key = mock.providerKey!;
  // The default APNs configuration lives in namespace "/" (seed): token authentication.
  const saved = await Promise.all([
    stack.api('/api/admin/namespace/save', {
      auth: ADMIN,
      body: { key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, apns_expiration: 600, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] },
    }),
    stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/cl', auth_passwd: PASSWORD } }),
  ]);
  expect(saved.map((r) => r.status)).toEqual([200, 200]);
}, 120_000);

afterAll(async () => {
  await redis?.quit();
  const workerCode = await worker?.stop();
  const codes = await stack?.stop();
  await mock?.close();
  expect(workerCode).toBe(0);
  expect(codes).toEqual([0, 0, 0]);
});

const connector = (i: number) => stack.connectors[i]!.port;

function nextEvent<T = any>(socket: TestSocket, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    (socket as any).once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

async function push(room: string, extra: object = {}, auth = AUTH): Promise<{ id: number; expectAckCount: number }> {
  const { status, body } = await stack.api('/api/auth/push', { auth, body: { room, pushData: { room }, ...extra } });
  expect(status).toBe(200);
  return body;
}

async function report(id: number, done: (r: any) => boolean, auth = AUTH): Promise<any> {
  return until(async () => {
    const r = (await stack.api(`/api/auth/report/push/${id}`, { auth })).body;
    return done(r) ? r : undefined;
  }, 15_000);
}

/** Closes a client and waits until its connector recorded the disconnect. */
async function goOffline(socket: TestSocket, clientId: string): Promise<void> {
  const gone = new Promise((resolve) => socket.once('disconnect', resolve));
  socket.close();
  await gone;
  await until(async () => ((await redis.hget(keys.client(clientId), 'sid')) === null ? true : undefined), 10_000);
}

/**
 * `count` names `<base>-<n>` whose keys (through `key`) live on distinct masters, so that a test
 * crosses nodes by construction rather than by luck.
 */
function onDistinctMasters(base: string, count: number, key: (name: string) => string): string[] {
  const picked = new Map<string, string>();
  for (let n = 0; picked.size < count; n++) {
    const name = `${base}-${n}`;
    const master = redis.slots[slot(key(name))]![0]!;
    if (!picked.has(master)) picked.set(master, name);
  }
  return [...picked.values()];
}

/** Every key on every master (SCAN per node: a cluster client cannot scan the whole keyspace at once). */
async function allKeys(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const node of redis.nodes('master')) {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await node.scan(cursor, 'COUNT', 1000);
      cursor = next;
      found.push(...page);
    } while (cursor !== '0');
    out.set(`${node.options.port}`, found);
  }
  return out;
}

test('every role is connected to the cluster of three masters', async () => {
  expect(redis.nodes('master')).toHaveLength(3);
  expect(worker.logs.find((line) => line.msg === 'connected')?.['redis']).toBe(`cluster ${stack.redis.url}`);
  const lists = await Promise.all(redis.nodes('master').map((node) => node.client('LIST') as Promise<string>));
  const names = new Set(lists.join('\n').match(/ name=\S+/g)!.map((field) => field.slice(' name='.length)));
  for (const name of ['herald-logic', 'herald-connector-main', 'herald-connector-pub', 'herald-worker', 'herald-worker-offline', 'herald-worker-apns']) {
    expect(names).toContain(name);
  }
});

test('clients on different connectors join a room, see each other join, get a REST push and ack it; the report counts both', async () => {
  const a = await connectClient(connector(0), '/cl', { uuid: 'a1', userid: 'ann', platform: 'web', activityBroadcast: 'true' });
  const b = await connectClient(connector(1), '/cl', { uuid: 'b1', userid: 'bob', platform: 'android', activityBroadcast: 'true' });
  expect(await emitWithAck(a.socket, 'joinRoom', 'news')).toMatchObject({ status: 200 });
  // A room broadcast from connector 1 reaches connector 0 through the sharded adapter.
  const joined = nextEvent(a.socket, 'peopleJoin');
  expect(await emitWithAck(b.socket, 'joinRoom', 'news')).toMatchObject({ status: 200 });
  expect(await joined).toMatchObject({ uuid: 'b1', userid: 'bob', room: 'news' });

  const received = [nextEvent(a.socket, 'push'), nextEvent(b.socket, 'push')];
  const { id, expectAckCount } = await push('news', { pushData: { text: 'hello cluster' } });
  expect(expectAckCount).toBe(2);
  for (const message of await Promise.all(received)) {
    expect(message).toMatchObject({ id, namespace: '/cl', room: 'news', pushData: { text: 'hello cluster' } });
    expect(typeof message.sendDate).toBe('number');
  }
  a.socket.emit('ackPush', { id });
  b.socket.emit('ackPush', { id });
  const r = await report(id, (x) => x.ackCount === 2 && x.onlineClientCount === 2);
  expect(r).toMatchObject({ id, room: 'news', ackCount: 2, ackAndroidCount: 1, ackIOSCount: 0, onlineClientCount: 2 });

  // The online report reads room and namespace presence (MULTI within one tag, pipelines per slot).
  const online = (await stack.api('/api/auth/report/online?room=news&detail=true', { auth: AUTH })).body;
  expect(online).toEqual([
    expect.objectContaining({ name: 'news', clientCount: 2, userCount: 2, client: [a.ok.clientId, b.ok.clientId].sort(), user: ['ann', 'bob'] }),
  ]);
  expect((await stack.api('/api/auth/report/online', { auth: AUTH })).body).toMatchObject({ roomCount: 1, clientCount: 2, userCount: 2 });
  const stat = (await stack.api('/api/auth/namespace/current-message-stat', { auth: AUTH })).body;
  expect(stat.currDateMessageCount).toBeGreaterThanOrEqual(1);

  // A client's own push goes out from its connector through the same sharded channel: the other
  // connector's member gets it, the sender does not.
  const fromClient = nextEvent(b.socket, 'push');
  const sent = await new Promise<any>((resolve) => a.socket.emit('push', { room: 'news', pushData: { text: 'from ann' } }, resolve));
  expect(sent).toMatchObject({ status: 200 });
  expect(await fromClient).toMatchObject({ id: sent.id, room: 'news', pushData: { text: 'from ann' } });

  // Leaving takes a client out of the room everywhere: the next push expects one ack.
  const left = nextEvent(b.socket, 'peopleLeave');
  expect(await emitWithAck(a.socket, 'leaveRoom', 'news')).toMatchObject({ status: 200 });
  expect(await left).toMatchObject({ uuid: 'a1', room: 'news' });
  expect((await push('news')).expectAckCount).toBe(1);
  // Several round trips through both connectors later: the sender never got its own push.
  expect(a.events.filter((e) => e.event === 'push' && (e.args[0] as { id: number }).id === sent.id)).toEqual([]);
  a.socket.close();
  b.socket.close();
});

test('a batch push to rooms on different masters reaches both connectors in request order; its Idempotency-Key replay pushes nothing again', async () => {
  // The batch's audiences are counted on two masters before the script (another slot than the
  // messages), and its packets SPUBLISHed after it.
  const rooms = onDistinctMasters('batch', 2, (room) => keys.roomOnline('/cl', room));
  const a = await connectClient(connector(0), '/cl', { uuid: 'ba', platform: 'web' });
  const b = await connectClient(connector(1), '/cl', { uuid: 'bb', platform: 'web' });
  await Promise.all([emitWithAck(a.socket, 'joinRoom', rooms[0]!), emitWithAck(b.socket, 'joinRoom', rooms[0]!), emitWithAck(b.socket, 'joinRoom', rooms[1]!)]);
  const batch = [
    { room: rooms[0], pushData: { n: 1 }, except: a.ok.clientId },
    { room: rooms[1], pushData: { n: 2 } },
    { room: rooms[0] },
  ];
  const send = () => stack.api('/api/auth/push/batch', { auth: AUTH, body: batch, headers: { 'idempotency-key': 'cluster-batch' } });
  const toB = new Promise<any[]>((resolve) => {
    const got: any[] = [];
    b.socket.on('push', (message: any) => (got.push(message), got.length === 2 && resolve(got)));
  });
  const first = await send();
  expect(first.status).toBe(200);
  const [one, two, bad] = first.body;
  expect([one, two]).toEqual([
    { id: expect.any(Number), expectAckCount: 1 },
    { id: one.id + 1, expectAckCount: 1 },
  ]);
  expect(bad).toEqual({ code: 'PUSH_DATA_INVALID', msg: 'pushData can not be empty and must be an Object' });
  expect((await toB).map((m) => [m.id, m.room])).toEqual([[one.id, rooms[0]], [two.id, rooms[1]]]);
  expect(await send()).toEqual(first);
  // Nothing new was stored, nor published to b (its next push is a fresh one).
  const next = new Promise<any>((resolve) => b.socket.once('push', resolve));
  const after = await push(rooms[1]!);
  expect(after.id).toBe(two.id + 1);
  expect((await next).id).toBe(after.id);
  expect(a.events.filter((e) => e.event === 'push')).toEqual([]);
  a.socket.close();
  b.socket.close();
});

test('transfer and room-wide settings reach members on both connectors and on different masters', async () => {
  // Two clients, and two rooms, whose keys live on different masters: what is done for every member
  // or room (pipelines) has to reach several nodes.
  const [ua, ub] = onDistinctMasters('t', 2, (uuid) => keys.client(`/cl#${uuid}#web-${uuid}`));
  const [src, dst] = onDistinctMasters('room', 2, (room) => keys.roomOnline('/cl', room));
  const a = await connectClient(connector(0), '/cl', { uuid: ua!, platform: 'web' });
  const b = await connectClient(connector(1), '/cl', { uuid: ub!, platform: 'web' });
  await Promise.all([emitWithAck(a.socket, 'joinRoom', src), emitWithAck(b.socket, 'joinRoom', src)]);
  const notices = [nextEvent(a.socket, 'joinRoom'), nextEvent(b.socket, 'joinRoom')];
  const transfer = await stack.api('/api/auth/transfer', { auth: AUTH, body: { sourceRooms: [src], targetRoom: dst, type: 'join' } });
  expect(transfer.status).toBe(200);
  for (const notice of await Promise.all(notices)) expect(notice).toMatchObject({ targetRoom: dst, type: 'join' });
  expect((await push(dst!)).expectAckCount).toBe(2);
  for (const cid of [a.ok.clientId, b.ok.clientId]) expect(await redis.sismember(keys.clientRooms(cid), dst!)).toBe(1);
  const online = (await stack.api('/api/auth/report/online?detail=true', { auth: AUTH })).body;
  expect(online).toMatchObject({ roomCount: 2, room: [src, dst].sort(), clientCount: 2 });

  // Settings applied to every member: one client record (and slot) each.
  expect((await stack.api('/api/auth/room-apns', { auth: AUTH, body: { room: dst, add: [dst] } })).status).toBe(200);
  expect((await stack.api('/api/auth/room-leave-message', { auth: AUTH, body: { room: dst, leaveMessage: false } })).status).toBe(200);
  for (const cid of [a.ok.clientId, b.ok.clientId]) {
    expect(await redis.smembers(keys.clientMuted(cid))).toEqual([dst]);
    expect(await redis.hget(keys.client(cid), 'leaveMessage')).toBe('false');
  }
  a.socket.close();
  b.socket.close();
});

test('a second connection of a clientId on the other connector kicks the first', async () => {
  const first = await connectClient(connector(0), '/cl', { uuid: 'dup', platform: 'web' });
  const kicked = nextEvent(first.socket, 'kickout');
  const second = await connectClient(connector(1), '/cl', { uuid: 'dup', platform: 'web' });
  expect(await kicked).toEqual({ reason: 'duplicate' });
  expect(second.ok.clientId).toBe(first.ok.clientId);
  expect(await redis.hget(keys.client(second.ok.clientId), 'sid')).toBe(second.socket.id);
  second.socket.close();
});

test('root-namespace clients of a mapped socket.io path (HERALD_SOCKET_PATHS) on both connectors get a push; a mapped client is kicked across connectors', async () => {
  const open = (port: number, uuid: string): Promise<{ socket: TestSocket; ok: any }> => {
    const socket = io(`http://127.0.0.1:${port}`, { path: '/socket', query: { uuid }, transports: ['websocket'], forceNew: true, reconnection: false }) as TestSocket;
    return nextEvent(socket, 'ok').then((ok) => ({ socket, ok }));
  };
  const [a, b] = await Promise.all([open(connector(0), 'mapped-a'), open(connector(1), 'mapped-b')]);
  expect([a.ok.clientId, b.ok.clientId]).toEqual(['/cl#mapped-a#web-mapped-a', '/cl#mapped-b#web-mapped-b']);
  for (const c of [a, b]) expect(await emitWithAck(c.socket, 'joinRoom', 'mapped')).toEqual({ status: 200, msg: 'ok' });
  const got = Promise.all([nextEvent(a.socket, 'push'), nextEvent(b.socket, 'push')]);
  const { id, expectAckCount } = await push('mapped');
  expect(expectAckCount).toBe(2);
  expect((await got).map((m) => [m.id, m.namespace])).toEqual([[id, '/cl'], [id, '/cl']]);
  const kicked = nextEvent(a.socket, 'kickout');
  const again = await connectClient(connector(1), '/cl', { uuid: 'mapped-a' });
  expect(await kicked).toEqual({ reason: 'duplicate' });
  for (const socket of [a.socket, b.socket, again.socket]) socket.close();
});

test('an offline Android member gets the push from its inbox when it reconnects, on the other connector', async () => {
  const c = await connectClient(connector(0), '/cl', { uuid: 'droid', platform: 'android' });
  await emitWithAck(c.socket, 'joinRoom', 'later');
  await goOffline(c.socket, c.ok.clientId);

  const { id } = await push('later', { leaveMessage: true, pushData: { text: 'while you were away' } });
  expect((await report(id, (r) => Boolean(r.offline))).offline).toBe('inbox:1 apns:0');
  expect(await redis.zrange(keys.clientInbox(c.ok.clientId), 0, -1)).toEqual([String(id)]);

  const socket: TestSocket = io(`http://127.0.0.1:${connector(1)}/cl`, {
    query: { uuid: 'droid', platform: 'android' },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  const replay = new Promise<any[]>((resolve) =>
    (socket as any).once('offlineMessage', (messages: any[], ack: () => void) => {
      ack();
      resolve(messages);
    }),
  );
  const ok = nextEvent(socket, 'ok');
  const messages = await replay;
  await ok;
  expect(messages).toEqual([expect.objectContaining({ id, namespace: '/cl', room: 'later', pushData: { text: 'while you were away' } })]);
  const r = await report(id, (x) => x.ackAndroidCount === 1);
  expect(r.ackCount).toBe(1);
  await until(async () => ((await redis.zcard(keys.clientInbox(c.ok.clientId))) === 0 ? true : undefined));
  socket.close();
});

test('offline iOS devices get an APNs notification through the worker; a token Apple refuses is forgotten', async () => {
  const good = randomBytes(32).toString('hex');
  const gone = randomBytes(32).toString('hex');
  mock.script(gone, { status: 410, reason: 'Unregistered', timestamp: Date.now() + 60_000 });
  const devices: string[] = [];
  // On different masters: the offline step and the APNs job read both records in one go.
  const uuids = onDistinctMasters('phone', 2, (uuid) => keys.client(`/cl#${uuid}#ios-${uuid}`));
  for (const [uuid, token] of [[uuids[0]!, good], [uuids[1]!, gone]] as const) {
    const c = await connectClient(connector(devices.length), '/cl', { uuid, platform: 'ios' });
    await emitWithAck(c.socket, 'joinRoom', 'alerts');
    await new Promise((resolve) => c.socket.emit('info', { device_token: token }, resolve));
    await goOffline(c.socket, c.ok.clientId);
    devices.push(c.ok.clientId);
  }
  const { id } = await push('alerts', { leaveMessage: true, pushData: { text: 'ring', apsData: { aps: { alert: 'ring' } } } });
  const r = await report(id, (x) => x.apnsCount === 2);
  expect(r).toMatchObject({ apnsCount: 2, apnsSuccessCount: 1, offline: 'inbox:0 apns:2' });
  const delivered = mock.requests.filter((request) => request.token === good);
  expect(delivered).toHaveLength(1);
  expect(delivered[0]!.headers['apns-topic']).toBe(TOPIC);
  expect(delivered[0]!.payload).toMatchObject({ aps: { alert: 'ring' } });
  expect(await redis.hget(keys.client(devices[1]!), 'device_token')).toBeNull();
  expect(await redis.hget(keys.client(devices[0]!), 'device_token')).toBe(good);
});

test('namespace save, offline switch and the scan-based clear and flush work across the masters', async () => {
  const nsp = '/wipe';
  const auth = basic(nsp, PASSWORD);
  expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: nsp, auth_passwd: PASSWORD } })).status).toBe(200);
  const clients = await Promise.all(
    Array.from({ length: 6 }, (_, i) => connectClient(connector(i % 2), nsp, { uuid: `w${i}`, userid: `u${i}`, platform: i % 3 === 0 ? 'android' : 'web' })),
  );
  await Promise.all(clients.map((c, i) => emitWithAck(c.socket, 'joinRoom', [`room${i % 3}`, 'all'])));
  // Each client acks what it got (an ack of a message a client was not sent yet is not counted).
  const received = clients.map((c) => nextEvent(c.socket, 'push'));
  const { id } = await push('all', { leaveMessage: true }, auth);
  await Promise.all(received);
  for (const c of clients) c.socket.emit('ackPush', { id });
  await report(id, (r) => r.ackCount === 6, auth);

  // BullMQ's job keys name the namespace too (job ids); clean-ups leave jobs to their retention.
  const mine = (all: Map<string, string[]>) =>
    [...all.values()].flat().filter((key) => key.includes(nsp) && !key.startsWith(keys.queuePrefix())).sort();
  const spread = [...(await allKeys()).values()].filter((found) => found.some((key) => key.includes(nsp))).length;
  // Rooms and clients have tags of their own: the namespace's keys are on more than one master.
  expect(spread).toBeGreaterThan(1);

  // The change is published on the namespace channel; both connectors drop their sockets.
  const dropped = clients.map((c) => new Promise((resolve) => c.socket.once('disconnect', resolve)));
  expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: nsp, offline: 'on' } })).status).toBe(200);
  await Promise.all(dropped);
  for (const c of clients) await until(async () => ((await redis.hget(keys.client(c.ok.clientId), 'sid')) === null ? true : undefined), 10_000);
  // The namespace presence is the last step of a disconnect's clean-up (after the record's sid).
  await until(async () => ((await redis.scard(keys.namespaceOnline(nsp))) === 0 ? true : undefined), 10_000);

  const before = mine(await allKeys());
  expect(before).toEqual(expect.arrayContaining([keys.message(nsp, id), keys.roomMembers(nsp, 'all'), keys.client(clients[0]!.ok.clientId)]));
  const cleared = await stack.api(`/api/admin/namespace/clear/${encodeURIComponent(nsp)}`, { auth: ADMIN });
  expect(cleared).toEqual({ status: 200, body: { deletedKeys: before.length - 2 } });
  expect(mine(await allKeys())).toEqual([keys.namespace(nsp), keys.messageSeq(nsp)].sort());

  const flushed = await stack.api(`/api/admin/namespace/flush/${encodeURIComponent(nsp)}`, { auth: ADMIN });
  expect(flushed).toEqual({ status: 200, body: { deletedKeys: 1 } });
  expect(mine(await allKeys())).toEqual([keys.messageSeq(nsp)]);
  expect(await redis.zscore(keys.namespaceIndex(), nsp)).toBeNull();
});

test('BullMQ keeps its queues under the hash-tagged prefix, each queue in one slot', async () => {
  const queueKeys = [...(await allKeys()).values()].flat().filter((key) => key.startsWith('{h:q}:'));
  expect(queueKeys.some((key) => key.startsWith('{h:q}:offline:'))).toBe(true);
  expect(queueKeys.some((key) => key.startsWith('{h:q}:apns:'))).toBe(true);
  // Nothing of BullMQ under the single-server prefix.
  expect([...(await allKeys()).values()].flat().filter((key) => key.startsWith('h:q:'))).toEqual([]);
});

test('webservice protocol (seed 001): a shared room reaches device queues on both connectors; ack, disconnect, _batch and its ack on the cluster', async () => {
  const site = await startSite();
  try {
    site.rooms.set('u1', ['user_1', 'staff']);
    site.rooms.set('u2', ['user_2', 'staff']);
    const settings = { auth_url: `${site.url}/rooms`, api_key: 'cluster-webservice-key', user_room_prefix: 'user_' };
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/wsc', protocol: 'webservice', settings } })).status).toBe(200);
    const a = await wsConnect('v4', stack.connectors[0]!.port, '/wsc', { token: 'u1', deviceId: 'c1' });
    const b = await wsConnect('v4', stack.connectors[1]!.port, '/wsc', { token: 'u2', deviceId: 'c2' });
    await Promise.all([a.nth('_settings'), b.nth('_settings')]);
    const store = new WebserviceStore(redis, keys);
    await until(async () => ((await store.devices('/wsc', 'user_2'))['c2']?.connected ? true : undefined));
    expect((await send(stack.logic.port, 'site=wsc&apiKey=cluster-webservice-key', { rooms: 'staff', event: 'update_store', args: ['user', { id: 1 }] })).text).toBe('OK');
    const [gotA, gotB] = await Promise.all([a.nth('update_store'), b.nth('update_store')]);
    expect([gotA.args, gotB.args]).toEqual([['user', { id: 1 }], ['user', { id: 1 }]]);
    gotA.ack!();
    await until(async () => ((await store.pending('/wsc', 'user_1|c1')).length === 0 ? true : undefined));
    await b.close();
    const back = await wsConnect('v4', stack.connectors[0]!.port, '/wsc', { token: 'u2', deviceId: 'c2' });
    const batch = await back.nth('_batch');
    expect(batch.args).toEqual([[['update_store', 'user', { id: 1 }]]]);
    batch.ack!();
    await until(async () => ((await store.pending('/wsc', 'user_2|c2')).length === 0 ? true : undefined));
    await Promise.all([a.close(), back.close()]);
  } finally {
    await site.close();
  }
});

test('roomsync protocol (seed 000): tokens, single session, room presence, relay, storage and sync on the cluster', async () => {
  const settings = { admin_uid: 'ops', admin_token: 'cluster-roomsync-admin-token' };
  expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/rsc', protocol: 'roomsync', settings } })).status).toBe(200);
  const rest = (path: string, body: unknown) => stack.api(`${path}?uid=ops&token=cluster-roomsync-admin-token`, { body });
  /** A stock v4 client of the namespace on connector `i`, authenticated as `uid` and in room `r1`. */
  const member = async (i: number, uid: string) => {
    const created = await rest('/user/create_token', { uid });
    expect(created.body.meta).toEqual({ status: 0, msg: 'success' });
    const socket = io(`http://127.0.0.1:${stack.connectors[i]!.port}/rsc`, { transports: ['websocket'], reconnection: false, forceNew: true });
    const answer = (event: string) => new Promise((resolve) => socket.once(event, resolve));
    const authenticated = answer('authenticate');
    socket.emit('authenticate', { uid, token: created.body.data.token });
    expect(await authenticated).toEqual({ status: 0, data: 'auth success' });
    const joined = answer('join');
    socket.emit('join', { roomId: 'r1' });
    expect(await joined).toEqual({ status: 0, data: 'join success' });
    return { socket, answer };
  };
  const a = await member(0, 'ua');
  const b = await member(1, 'ub');
  try {
    const relayed = b.answer('msg');
    a.socket.emit('msg', { data: 'hello', storage: 0, msgId: 'm1' });
    const message = { data: 'hello', storage: 0, msgId: 'm1', uid: 'ua' };
    expect(await relayed).toEqual(message);
    const synced = b.answer('sync');
    b.socket.emit('sync', { offset: 0 });
    expect(await synced).toEqual({ data: [message], offset: 1, next: 0 });
  } finally {
    a.socket.close();
    b.socket.close();
  }
});

test('every Lua script ran on the cluster, and no master refused a command for its keys', async () => {
  const sha = (lua: string) => createHash('sha1').update(lua).digest('hex');
  const scripts = readScripts();
  expect(scripts.map((s) => s.command).sort()).toEqual(
    ['clientDisconnect', 'clientTokenDrop', 'connectorRegistry', 'inboxAdd', 'namespacePresence', 'namespaceSave', 'pushAccept', 'reportApply', 'reportBatch', 'roomJoin', 'roomLeave', 'roomOffline', 'roomsyncAccount', 'roomsyncPage', 'roomsyncPresence', 'roomsyncStore', 'webserviceAck', 'webserviceBatchAck', 'webserviceConnect', 'webserviceDisconnect', 'webserviceSend'].sort(),
  );
  const masters = redis.nodes('master');
  // A script is in a node's cache once runScript EVAL'd it there (after EVALSHA's NOSCRIPT).
  const cached = await Promise.all(masters.map((node) => node.call('SCRIPT', 'EXISTS', ...scripts.map((s) => sha(s.lua))) as Promise<number[]>));
  const ran = scripts.filter((_, i) => cached.some((flags) => flags[i] === 1)).map((s) => s.command);
  expect(ran).toEqual(scripts.map((s) => s.command));
  for (const node of masters) {
    const errors = counts(await node.info('errorstats'), /^errorstat_(\w+):count=(\d+)/);
    const failed = counts(await node.info('commandstats'), /^cmdstat_(\S+):.*failed_calls=(\d+)/);
    // No command was refused for keys of several slots (a script's declared keys, a MULTI, an MGET…).
    expect(errors['CROSSSLOT']).toBeUndefined();
    // The only failing script calls are runScript's first EVALSHAs of a script on a node (NOSCRIPT,
    // then EVAL): no script failed while it ran (a key of another slot would fail it there).
    expect(failed['evalsha'] ?? 0).toBe(errors['NOSCRIPT'] ?? 0);
    expect(Object.entries(failed).filter(([command, n]) => command !== 'evalsha' && n > 0)).toEqual([]);
  }
});

/** `name → number` from the lines of an INFO section that match `pattern` (two groups). */
function counts(info: string, pattern: RegExp): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of info.split(/\r?\n/)) {
    const match = pattern.exec(line);
    if (match) out[match[1]!] = Number(match[2]);
  }
  return out;
}

test('node scripts/redis-cluster.mjs starts a cluster for operators and removes it on SIGTERM', async () => {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'redis-cluster.mjs')], { cwd: REPO_ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /^HERALD_REDIS_URL=(\S+)$/m.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before it was ready:\n${output}`)));
  });
  const dirs = /data in (.+)$/m.exec(output)![1]!.split(' ');
  const nodes = url.split(',').map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) }));
  expect(nodes).toHaveLength(3);
  const client = new Cluster(nodes);
  expect(await client.set('{probe}:k', 'v')).toBe('OK');
  expect(((await client.cluster('INFO')) as string)).toContain('cluster_state:ok');
  expect(client.nodes('master')).toHaveLength(3);
  await client.quit();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  for (const dir of dirs) expect(existsSync(dir)).toBe(false);
}, 60_000);
