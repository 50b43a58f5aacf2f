/**
 * The push protocol, socket side, across connector processes (issue 3): handshake refusals,
 * duplicate clientIds, persistent rooms, presence, client events, namespace offline, and a killed
 * connector — each with a socket.io v4 client and with a v2 client of the seed era (item 10), each
 * against its own stack.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { freePort, until } from '@herald/test-support';
import { basic, CLIENT_VERSIONS, clients, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

const keys = new Keys('h:');
const NSP_AUTH = basic('/demo', 'pw');

function nextEvent<T = unknown>(c: Recorded, event: string): Promise<T> {
  return new Promise((resolve) => (c.socket as any).once(event, resolve));
}

describe.each(CLIENT_VERSIONS)('socket.io-client %s', (version) => {
  const use = clients(version);
  let stack: Stack;
  let redis: Redis;
  const opened: Recorded[] = [];

  async function client(connector: number, query: Record<string, string>, namespace = '/demo', headers?: Record<string, string>) {
    const c = await use.connect(stack.connectors[connector]!.port, namespace, query, headers);
    opened.push(c);
    return c;
  }

  beforeAll(async () => {
    stack = await startStack({ connectors: 2, env: { HERALD_NAMESPACE_OFFLINE_DELAY_MS: '200', HERALD_CONNECTOR_HEARTBEAT_MS: '200', HERALD_CALLBACK_TIMEOUT_MS: '500' } });
    redis = new Redis(stack.redis.url);
    for (const key of ['/demo', '/other']) {
      expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key, auth_passwd: 'pw' } })).status).toBe(200);
    }
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/closed', auth_passwd: 'pw', offline: 'on' } })).status).toBe(200);
  });
  afterAll(async () => {
    for (const c of opened) c.socket.close();
    await redis.quit();
    await stack.stop();
  });

  // The seed's checks in its order, with its messages, through both connector processes. A v4 client
  // also gets the catalogue code as `data`; a v2 client gets the bare message (docs/protocol.md).
  test.each([
    ['/nope', { uuid: 'u1' }, 'this namespace not found', 'HS_NAMESPACE_NOT_FOUND'],
    ['/closed', { uuid: 'u1' }, 'this namespace offline', 'HS_NAMESPACE_OFFLINE'],
    ['/demo', {}, 'uuid invalid', 'HS_UUID_INVALID'],
    ['/demo', { uuid: 'a b', userid: 'a:b', platform: 'nokia' }, 'uuid invalid', 'HS_UUID_INVALID'],
    ['/demo', { uuid: 'u1', userid: 'a:b', platform: 'nokia' }, 'userid invalid', 'HS_USERID_INVALID'],
    ['/demo', { uuid: 'u1', platform: 'nokia' }, 'platform invalid', 'HS_PLATFORM_INVALID'],
  ])('handshake on %s with %j is refused with "%s" and leaves no client behind', async (namespace, query, message, code) => {
    for (const connector of stack.connectors) {
      const refusal = await use.refusal(connector.port, namespace, query);
      expect(refusal.message).toBe(message);
      expect(refusal.data).toEqual(version === 'v4' ? { code } : undefined);
    }
    for (const platform of ['web', 'nokia']) expect(await redis.exists(keys.client(`${namespace}#u1#${platform}-u1`))).toBe(0);
  });

  describe('duplicate clientId (kick, the default)', () => {
    test('a second connection on another connector evicts the first, whose clean-up cannot undo the newcomer', async () => {
      const first = await client(0, { uuid: 'dup', userid: 'dupuser' });
      expect(await emitWithAck(first.socket, 'joinRoom', 'dr')).toEqual({ status: 200, msg: 'ok' });
      const kicked = nextEvent(first, 'kickout');
      const gone = nextEvent(first, 'disconnect');
      const second = await client(1, { uuid: 'dup', userid: 'dupuser' });
      expect(await kicked).toEqual({ reason: 'duplicate' });
      await gone;
      // The newcomer is online in the room it inherited (persistent membership) and in its user room.
      const cid = '/demo#dupuser#web-dup';
      expect(await redis.hget(keys.client(cid), 'sid')).toBe(second.socket.id);
      expect(await redis.smembers(keys.roomOnline('/demo', 'dr'))).toEqual([cid]);
      expect(await redis.smembers(keys.roomOnline('/demo', 'user_dupuser'))).toEqual([cid]);
      // Nothing of the evicted socket is left: its connector no longer lists the client (the reaper
      // would otherwise mark the newcomer offline), and per-user online counts are the newcomer's 1.
      const connectorId = (i: number) => stack.connectors[i]!.logs.find((l) => l.msg === 'listening')!['connector'] as string;
      expect(await redis.sismember(keys.connectorClients(connectorId(0)), cid)).toBe(0);
      expect(await redis.sismember(keys.connectorClients(connectorId(1)), cid)).toBe(1);
      expect(await redis.hget(keys.namespaceOnlineUsers('/demo'), 'dupuser')).toBe('1');
      expect(await redis.hget(keys.roomOnlineUsers('/demo', 'dr'), 'dupuser')).toBe('1');
      const received = nextEvent(second, 'push');
      const push = await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'dr', pushData: { n: 1 } } });
      expect(push.body.expectAckCount).toBe(1);
      expect(await received).toMatchObject({ room: 'dr', pushData: { n: 1 } });
    });
  });

  test("a reconnect on another connector before the old socket's clean-up ran stays online in its rooms", async () => {
    const stalled = await stack.startConnector();
    const first = await use.connect(stalled.port, '/demo', { uuid: 'late', userid: 'lateuser' });
    opened.push(first);
    expect(await emitWithAck(first.socket, 'joinRoom', 'lr')).toEqual({ status: 200, msg: 'ok' });
    // The old connector stops answering (a stalled event loop, a paused VM): the eviction request
    // times out, the newcomer is recorded and re-joins its rooms, and the old socket is still there.
    stalled.child.kill('SIGSTOP');
    const second = await client(1, { uuid: 'late', userid: 'lateuser' });
    const cid = '/demo#lateuser#web-late';
    expect(await redis.smembers(keys.roomOnline('/demo', 'lr'))).toEqual([cid]);
    // It wakes up, handles the eviction and cleans up its old socket — after the newcomer joined.
    const gone = nextEvent(first, 'disconnect');
    stalled.child.kill('SIGCONT');
    await gone;
    // A graceful stop waits for every pending clean-up: once it exited, the old socket's is done.
    await stalled.stop('SIGTERM');
    expect(await redis.smembers(keys.roomOnline('/demo', 'lr'))).toEqual([cid]);
    expect(await redis.smembers(keys.roomOnline('/demo', 'user_lateuser'))).toEqual([cid]);
    expect(await redis.hget(keys.roomOnlineUsers('/demo', 'lr'), 'lateuser')).toBe('1');
    const received = nextEvent(second, 'push');
    const push = await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'lr', pushData: { n: 1 } } });
    expect(push.body.expectAckCount).toBe(1);
    expect(await received).toMatchObject({ room: 'lr', pushData: { n: 1 } });
  });

  describe('duplicate clientId (reject)', () => {
    test('the newcomer is refused with "socket.id conflict" while the first is connected anywhere', async () => {
      const strict = await stack.startConnector({ HERALD_DUPLICATE_CLIENT: 'reject' });
      const first = await client(0, { uuid: 'solo1' });
      const refusal = await use.refusal(strict.port, '/demo', { uuid: 'solo1' });
      expect(refusal.message).toBe('socket.id conflict');
      first.socket.close();
      await until(async () => ((await redis.hget(keys.client('/demo#solo1#web-solo1'), 'sid')) === null ? true : undefined));
      const again = await use.connect(strict.port, '/demo', { uuid: 'solo1' });
      opened.push(again);
      expect(again.ok.clientId).toBe('/demo#solo1#web-solo1');
    });
  });

  test('rooms persist: a client that joined a room is back in it on its next connect', async () => {
    const a = await client(0, { uuid: 'p1' });
    await emitWithAck(a.socket, 'joinRoom', ['keep', 'drop']);
    await emitWithAck(a.socket, 'leaveRoom', 'drop');
    a.socket.close();
    // The disconnect marks the client offline in its rooms, then writes its record: wait for the record.
    await until(async () => ((await redis.hget(keys.client('/demo#p1#web-p1'), 'disconnect_reason')) === 'network' ? true : undefined));
    expect(await redis.scard(keys.roomOnline('/demo', 'keep'))).toBe(0);
    const back = await client(1, { uuid: 'p1' });
    expect(await redis.smembers(keys.roomOnline('/demo', 'keep'))).toEqual(['/demo#p1#web-p1']);
    expect(await redis.scard(keys.roomOnline('/demo', 'drop'))).toBe(0);
    const record = await redis.hgetall(keys.client('/demo#p1#web-p1'));
    expect(Number(record['first_connect_time'])).toBeLessThanOrEqual(Number(record['last_connect_time']));
    expect(record['disconnect_reason']).toBe('network');
    expect(Number(record['last_disconnect_time'])).toBeGreaterThanOrEqual(Number(record['first_connect_time']));
    expect(Number(record['last_disconnect_time'])).toBeLessThanOrEqual(Number(record['last_connect_time']));
    back.socket.close();
  });

  describe('presence', () => {
    test('peopleJoin / peopleLeave reach members on the other connector when the client asked for them', async () => {
      const watcher = await client(1, { uuid: 'w1', userid: 'watcher' });
      await emitWithAck(watcher.socket, 'joinRoom', 'lobby');
      const joiner = await client(0, { uuid: 'j1', userid: 'joiner', activityBroadcast: 'true' });
      const joined = nextEvent(watcher, 'peopleJoin');
      await emitWithAck(joiner.socket, 'joinRoom', 'lobby');
      expect(await joined).toEqual({ sid: '/demo#joiner#web-j1', uuid: 'j1', userid: 'joiner', room: 'lobby' });
      const left = nextEvent(watcher, 'peopleLeave');
      await emitWithAck(joiner.socket, 'leaveRoom', 'lobby');
      expect(await left).toEqual({ sid: '/demo#joiner#web-j1', uuid: 'j1', userid: 'joiner', room: 'lobby', clientOffline: false });
      await emitWithAck(joiner.socket, 'joinRoom', 'lobby');
      const offline = nextEvent(watcher, 'peopleLeave');
      joiner.socket.close();
      expect(await offline).toMatchObject({ room: 'lobby', clientOffline: true });
    });

    test('activityBroadcast=false (a string) is false: no presence events', async () => {
      const watcher = await client(1, { uuid: 'w2' });
      await emitWithAck(watcher.socket, 'joinRoom', 'quiet');
      const joiner = await client(0, { uuid: 'j2', activityBroadcast: 'false' });
      await emitWithAck(joiner.socket, 'joinRoom', 'quiet');
      // A push after the join travels the same adapter path: once it arrived, a peopleJoin would have too.
      const pushed = nextEvent(watcher, 'push');
      await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'quiet', pushData: {} } });
      await pushed;
      expect(watcher.events.map((e) => e.event)).toEqual(['ok', 'push']);
    });

    test('HERALD_ROOM_ACTIVITY_BROADCAST=false: no presence events, even for a client that asks', async () => {
      const quiet = await stack.startConnector({ HERALD_ROOM_ACTIVITY_BROADCAST: 'false' });
      const watcher = await client(1, { uuid: 'w3' });
      await emitWithAck(watcher.socket, 'joinRoom', 'hush');
      const joiner = await use.connect(quiet.port, '/demo', { uuid: 'j3', activityBroadcast: 'true' });
      opened.push(joiner);
      await emitWithAck(joiner.socket, 'joinRoom', 'hush');
      await emitWithAck(joiner.socket, 'leaveRoom', 'hush');
      const pushed = nextEvent(watcher, 'push');
      await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'hush', pushData: {} } });
      await pushed;
      expect(watcher.events.map((e) => e.event)).toEqual(['ok', 'push']);
    });
  });

  describe('client events', () => {
    test('ackPush counts once per client and per platform', async () => {
      const ios = await client(0, { uuid: 'i1', platform: 'ios' });
      const android = await client(1, { uuid: 'a1', platform: 'android' });
      await emitWithAck(ios.socket, 'joinRoom', 'acks');
      await emitWithAck(android.socket, 'joinRoom', 'acks');
      const got = Promise.all([nextEvent(ios, 'push'), nextEvent(android, 'push')]);
      const { body } = await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'acks', pushData: {} } });
      await got;
      for (let i = 0; i < 3; i++) {
        ios.socket.emit('ackPush', { id: body.id });
        android.socket.emit('ackPush', { id: String(body.id) });
      }
      ios.socket.emit('ackPush', { id: 999999 });
      // A marker: acks of one socket reach the report in order, so once the marker's ack is counted,
      // every duplicate sent before it has been applied (or ignored).
      // (Sent to both: only acks of messages a client was sent count.)
      const markerGot = Promise.all([nextEvent(ios, 'push'), nextEvent(android, 'push')]);
      const marker = (await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'acks', pushData: {} } })).body.id;
      await markerGot;
      ios.socket.emit('ackPush', { id: marker });
      android.socket.emit('ackPush', { id: marker });
      await until(async () => ((await stack.api(`/api/auth/report/push/${marker}`, { auth: NSP_AUTH })).body.ackCount === 2 ? true : undefined));
      const final = (await stack.api(`/api/auth/report/push/${body.id}?ackDetail=true`, { auth: NSP_AUTH })).body;
      expect(final).toMatchObject({ ackCount: 2, ackIOSCount: 1, ackAndroidCount: 1, onlineClientCount: 2 });
      expect(final.ackIOSDetail).toEqual(['/demo#i1#ios-i1']);
      expect(final.ackAndroidDetail).toEqual(['/demo#a1#android-a1']);
      expect(final.ackWebDetail).toEqual([]);
      // The ack of an unknown (or expired) id was ignored: it created no report and no ack set.
      expect(await redis.exists(keys.message('/demo', 999999), keys.acks('/demo', 999999, 'ios'))).toBe(0);
    });

    test('info reads and writes the caller’s own record only', async () => {
      const c = await client(0, { uuid: 'info1', platform: 'android' });
      const set = await new Promise((r) => c.socket.emit('info', { device_token: 'tok123', leaveMessage: false }, r));
      expect(set).toEqual({ status: 200, msg: 'ok' });
      const read: any = await new Promise((r) => c.socket.emit('info', {}, r));
      expect(read).toMatchObject({ status: 200, msg: 'ok', device_token: 'tok123', leaveMessage: 'false', userid: 'info1', platform: 'android' });
      expect(Number(read.update_date)).toBeGreaterThanOrEqual(Number(read.last_connect_time));
      expect(read).not.toHaveProperty('sid');
      const other = await new Promise((r) => c.socket.emit('info', { clientId: '/demo#dup#web-dup', device_token: 'x' }, r));
      expect(other).toEqual({ status: 403, msg: 'Forbidden' });
      const bad = await new Promise((r) => c.socket.emit('info', { device_token: 5 }, r));
      expect(bad).toEqual({ status: 400, msg: 'info invalid: device_token must be a string of at most 512 characters' });
      expect(await redis.hget(keys.client('/demo#info1#android-info1'), 'device_token')).toBe('tok123');
    });

    test('apns do-not-disturb rooms: iOS only, exact names, remove wins', async () => {
      const ios = await client(0, { uuid: 'dnd1', platform: 'ios' });
      const ask = (data: unknown) => new Promise((r) => ios.socket.emit('apns', data, r));
      expect(await ask({ add: ['r10', 'r2'] })).toEqual({ status: 200, msg: 'ok' });
      expect(await ask({ add: 'r3', remove: ['r2', 'r3'] })).toEqual({ status: 200, msg: 'ok' });
      expect(await ask({})).toEqual(['r10']);
      expect(await redis.sismember(keys.clientMuted('/demo#dnd1#ios-dnd1'), 'r1')).toBe(0);
      const web = await client(0, { uuid: 'dnd2' });
      expect(await new Promise((r) => web.socket.emit('apns', {}, r))).toEqual({ status: 403, msg: 'Forbidden' });
    });

    test('a client push goes to the room minus its sender, at most once per interval', async () => {
      const sender = await client(0, { uuid: 's1', userid: 'sender' });
      const peer = await client(1, { uuid: 's2' });
      await emitWithAck(sender.socket, 'joinRoom', 'chat');
      await emitWithAck(peer.socket, 'joinRoom', 'chat');
      const send = (data: unknown) => new Promise<any>((r) => sender.socket.emit('push', data, r));
      const got = nextEvent<any>(peer, 'push');
      const first = await send({ room: 'chat', pushData: { text: 'hi' } });
      expect(first).toEqual({ status: 200, msg: 'ok', id: expect.any(Number) });
      expect(await got).toMatchObject({ id: first.id, room: 'chat', pushData: { text: 'hi' } });
      expect(await send({ room: 'chat', pushData: { text: 'again' } })).toEqual({ status: 500, msg: 'limited access in 1s' });
      const report = (await stack.api(`/api/auth/report/push/${first.id}`, { auth: NSP_AUTH })).body;
      expect(report).toMatchObject({ except: '/demo#sender#web-s1', from: '/demo#sender#web-s1' });
      expect(sender.events.filter((e) => e.event === 'push')).toEqual([]);
    });

    test('a client cannot choose except, namespace or from', async () => {
      const c = await client(0, { uuid: 's3' });
      const send = (data: unknown) => new Promise<any>((r) => c.socket.emit('push', data, r));
      expect(await send({ room: 'chat', pushData: {}, except: 'x' })).toEqual({ status: 400, msg: 'unknown field: except' });
      expect(await send({ room: 'chat', pushData: {}, namespace: '/other' })).toEqual({ status: 400, msg: 'unknown field: namespace' });
      expect(await send({ room: 'chat', pushData: {}, from: 'x' })).toEqual({ status: 400, msg: 'unknown field: from' });
    });
  });

  test('a client push while its namespace is offline:on is refused like the REST push, and nothing is sent', async () => {
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/paused', auth_passwd: 'pw' } })).status).toBe(200);
    const sender = await client(0, { uuid: 'q1' }, '/paused');
    const peer = await client(1, { uuid: 'q2' }, '/paused');
    await emitWithAck(sender.socket, 'joinRoom', 'quiet');
    await emitWithAck(peer.socket, 'joinRoom', 'quiet');
    // The stored switch without its notice: the state a socket is in during the watch's drop delay
    // (or after a lost notice). The watch does not drop these sockets, the push handler must refuse.
    await redis.hset(keys.namespace('/paused'), 'offline', 'on');
    const send = (data: unknown) => new Promise<any>((r) => sender.socket.emit('push', data, r));
    expect(await send({ room: 'quiet', pushData: { n: 1 } })).toEqual({ status: 400, msg: 'this namespace offline' });
    const rest = await stack.api('/api/auth/push', { auth: basic('/paused', 'pw'), body: { room: 'quiet', pushData: {} } });
    expect(rest).toEqual({ status: 400, body: { code: 'NAMESPACE_OFFLINE', msg: 'this namespace offline' } });
    // Back on: the next push (not rate-limited, the refused one did not count) is the only one the peer gets.
    await redis.hset(keys.namespace('/paused'), 'offline', 'off');
    const got = nextEvent<any>(peer, 'push');
    const sent = await send({ room: 'quiet', pushData: { n: 2 } });
    expect(sent).toEqual({ status: 200, msg: 'ok', id: expect.any(Number) });
    expect(await got).toMatchObject({ id: sent.id, pushData: { n: 2 } });
    expect(peer.events.filter((e) => e.event === 'push').map((e) => (e.args[0] as any).pushData)).toEqual([{ n: 2 }]);
  });

  test("rooms per client are bounded by the namespace's max_client_rooms: a joinRoom or transfer past it is refused whole", async () => {
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/capped', auth_passwd: 'pw', max_client_rooms: 3 } })).status).toBe(200);
    const c = await client(0, { uuid: 'm1', userid: 'mu' }, '/capped');
    const cid = '/capped#mu#web-m1';
    const rooms = async () => (await redis.smembers(keys.clientRooms(cid))).sort();
    expect(await emitWithAck(c.socket, 'joinRoom', ['a', 'b'])).toEqual({ status: 200, msg: 'ok' });
    // Two new rooms would make 4: neither is joined.
    expect(await emitWithAck(c.socket, 'joinRoom', ['c', 'd'])).toEqual({ status: 400, msg: 'too many rooms for this client: at most 3' });
    expect(await rooms()).toEqual(['a', 'b']);
    for (const room of ['c', 'd']) {
      expect(await redis.scard(keys.roomMembers('/capped', room))).toBe(0);
      expect(await redis.scard(keys.roomOnline('/capped', room))).toBe(0);
    }
    // A room it is in already does not count twice; its user room never counts.
    expect(await emitWithAck(c.socket, 'joinRoom', ['b', 'c', 'user_mu'])).toEqual({ status: 200, msg: 'ok' });
    expect(await rooms()).toEqual(['a', 'b', 'c']);
    // REST transfer into a fourth room: refused as a whole, nobody joins.
    const other = await client(1, { uuid: 'm2' }, '/capped');
    expect(await emitWithAck(other.socket, 'joinRoom', 'a')).toEqual({ status: 200, msg: 'ok' });
    const transfer = await stack.api('/api/auth/transfer', { auth: basic('/capped', 'pw'), body: { sourceRooms: ['a'], targetRoom: 'e', type: 'join' } });
    expect(transfer.status).toBe(400);
    expect(transfer.body).toMatchObject({ code: 'CLIENT_ROOMS_LIMIT' });
    expect(await redis.scard(keys.roomMembers('/capped', 'e'))).toBe(0);
    expect(await redis.sismember(keys.clientRooms('/capped#m2#web-m2'), 'e')).toBe(0);
    // Below the limit again, it may join.
    expect(await emitWithAck(c.socket, 'leaveRoom', 'a')).toEqual({ status: 200, msg: 'ok' });
    expect(await emitWithAck(c.socket, 'joinRoom', 'd')).toEqual({ status: 200, msg: 'ok' });
    expect(await rooms()).toEqual(['b', 'c', 'd']);
  });

  test('REST transfer moves online sockets on every connector, with a notice only when membership changes', async () => {
    const a = await client(0, { uuid: 't1' });
    const b = await client(1, { uuid: 't2' });
    const already = await client(1, { uuid: 't3' });
    await emitWithAck(a.socket, 'joinRoom', 'tsrc');
    await emitWithAck(b.socket, 'joinRoom', 'tsrc');
    await emitWithAck(already.socket, 'joinRoom', ['tsrc', 'tdst']);
    const notices = Promise.all([nextEvent(a, 'joinRoom'), nextEvent(b, 'joinRoom')]);
    const request = { sourceRooms: ['tsrc'], targetRoom: 'tdst', type: 'join' };
    expect(await stack.api('/api/auth/transfer', { auth: NSP_AUTH, body: request })).toEqual({ status: 200, body: {} });
    expect(await notices).toEqual([
      { namespace: '/demo', ...request },
      { namespace: '/demo', ...request },
    ]);
    await until(async () => ((await redis.scard(keys.roomOnline('/demo', 'tdst'))) === 3 ? true : undefined));
    const got = Promise.all([a, b, already].map((c) => nextEvent(c, 'push')));
    await stack.api('/api/auth/push', { auth: NSP_AUTH, body: { room: 'tdst', pushData: { moved: true } } });
    expect((await got).map((m: any) => m.room)).toEqual(['tdst', 'tdst', 'tdst']);
    expect(already.events.filter((e) => e.event === 'joinRoom')).toEqual([]);

    const left = nextEvent(b, 'leaveRoom');
    await stack.api('/api/auth/transfer', { auth: NSP_AUTH, body: { ...request, type: 'leave' } });
    expect(await left).toEqual({ namespace: '/demo', ...request, type: 'leave' });
    await until(async () => ((await redis.scard(keys.roomOnline('/demo', 'tdst'))) === 0 ? true : undefined));
  });

  test('without HERALD_ALLOWED_ORIGINS a browser page of any origin may connect', async () => {
    const c = await client(0, { uuid: 'anyorigin' }, '/demo', { origin: 'https://anywhere.example' });
    expect(c.ok.clientId).toBe('/demo#anyorigin#web-anyorigin');
  });

  describe('connect callback', () => {
    let server: Server;
    let seen: { url: string; headers: IncomingHttpHeaders }[];
    let reply: (url: string) => { status: number; body?: string; delayMs?: number };

    beforeAll(async () => {
      seen = [];
      server = createServer((req, res) => {
        seen.push({ url: req.url!, headers: req.headers });
        const { status, body, delayMs } = reply(req.url!);
        setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(body ?? ''), delayMs ?? 0);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`;
      await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/cb', auth_passwd: 'pw', connect_callback: url, callback_auth: 'cb-secret' } });
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    test('200 accepts; its body overrides userid and names rooms; the request carries the seed headers', async () => {
      reply = () => ({ status: 200, body: JSON.stringify({ userid: 'override', rooms: ['vip'] }) });
      const c = await client(0, { uuid: 'cb1', userid: 'orig', platform: 'web' }, '/cb', { cookie: 'session=cb1' });
      // The callback's user is the authenticated one: it names the clientId too (issue 12).
      expect(c.ok.clientId).toBe('/cb#override#web-cb1');
      const last = seen[seen.length - 1]!;
      expect(last.url).toContain('uuid=cb1');
      expect(last.url).toContain('userid=orig');
      expect(last.headers).toMatchObject({ authorization: 'cb-secret', namespace: '/cb', cookie: 'session=cb1' });
      expect(await redis.smembers(keys.roomOnline('/cb', 'vip'))).toEqual(['/cb#override#web-cb1']);
      expect(await redis.smembers(keys.roomOnline('/cb', 'user_override'))).toEqual(['/cb#override#web-cb1']);
    });

    test('another status refuses with "handshake fail statusCode: <n>"', async () => {
      reply = () => ({ status: 403 });
      expect((await use.refusal(stack.connectors[0]!.port, '/cb', { uuid: 'cb2' })).message).toBe('handshake fail statusCode: 403');
    });

    test('a slow callback times out, and does not hold up other handshakes', async () => {
      reply = () => ({ status: 200, delayMs: 3000 });
      const slow = use.refusal(stack.connectors[0]!.port, '/cb', { uuid: 'cb3' });
      const started = Date.now();
      const fast = await client(0, { uuid: 'fast' });
      expect(Date.now() - started).toBeLessThan(1000);
      expect(fast.ok.clientId).toBe('/demo#fast#web-fast');
      expect((await slow).message).toBe('handshake fail: callback timed out after 500 ms');
    });

    test('an unreachable callback refuses without naming its URL or the network error', async () => {
      const nobody = await freePort();
      const saved = await stack.api('/api/admin/namespace/save', {
        auth: ADMIN,
        body: { key: '/cbdown', auth_passwd: 'pw', connect_callback: `http://127.0.0.1:${nobody}/check?token=cb-url-secret` },
      });
      expect(saved.status).toBe(200);
      const refusal = await use.refusal(stack.connectors[1]!.port, '/cbdown', { uuid: 'cb4' });
      expect(refusal.message).toBe('handshake fail: callback unreachable');
      expect(refusal.data).toEqual(version === 'v4' ? { code: 'HS_CALLBACK_FAILED' } : undefined);
    });

    test('without HERALD_CALLBACK_ALLOW_PRIVATE a callback on the loopback is never called', async () => {
      // The stack allows loopback callbacks (its receivers listen on 127.0.0.1); this connector does not.
      const guarded = await stack.startConnector({ HERALD_CALLBACK_ALLOW_PRIVATE: 'false' });
      reply = () => ({ status: 200 });
      const before = seen.length;
      const refusal = await use.refusal(guarded.port, '/cb', { uuid: 'cb5' });
      expect(refusal.message).toBe('handshake fail: callback unreachable');
      expect(seen.length).toBe(before);
      // The same namespace through a connector that allows it: the callback is called and accepts.
      const c = await client(0, { uuid: 'cb6' }, '/cb');
      expect(c.ok.clientId).toBe('/cb#cb6#web-cb6');
      expect(seen.length).toBe(before + 1);
    });
  });

  test('namespace switched offline: sockets on every connector dropped, new ones refused; back on accepts', async () => {
    const a = await client(0, { uuid: 'o1' }, '/other');
    const b = await client(1, { uuid: 'o2' }, '/other');
    const dropped = Promise.all([nextEvent(a, 'disconnect'), nextEvent(b, 'disconnect')]);
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/other', offline: 'on' } })).status).toBe(200);
    await dropped;
    expect((await use.refusal(stack.connectors[0]!.port, '/other', { uuid: 'o3' })).message).toBe('this namespace offline');
    const push = await stack.api('/api/auth/push', { auth: basic('/other', 'pw'), body: { room: 'r', pushData: {} } });
    expect(push).toEqual({ status: 400, body: { code: 'NAMESPACE_OFFLINE', msg: 'this namespace offline' } });
    await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/other', offline: 'off' } });
    const back = await client(1, { uuid: 'o3' }, '/other');
    expect(back.ok.clientId).toBe('/other#o3#web-o3');
  });

  test('a connector paused past the heartbeat threshold is reaped; when it resumes it drops its sockets, which come back online', async () => {
    const paused = await stack.startConnector();
    const c = await use.connect(paused.port, '/demo', { uuid: 'z1' });
    opened.push(c);
    await emitWithAck(c.socket, 'joinRoom', 'pause');
    const cid = '/demo#z1#web-z1';
    paused.child.kill('SIGSTOP');
    // Silent for three heartbeats: another connector reaps it, and the client is offline.
    await until(async () => ((await redis.hget(keys.client(cid), 'disconnect_reason')) === 'connector lost' ? true : undefined), 10_000);
    expect(await redis.scard(keys.roomOnline('/demo', 'pause'))).toBe(0);
    // It wakes up: its next beat tells it that it was reaped. Rather than keep a socket that Redis
    // counts offline, it closes it; the client reconnects (here by hand: reconnection is off).
    const dropped = nextEvent(c, 'disconnect');
    paused.child.kill('SIGCONT');
    expect(await dropped).toBe('transport close');
    const back = await use.connect(paused.port, '/demo', { uuid: 'z1' });
    opened.push(back);
    expect(await redis.smembers(keys.roomOnline('/demo', 'pause'))).toEqual([cid]);
    const connectorOf = await redis.hget(keys.client(cid), 'connector');
    expect(await redis.sismember(keys.connectorClients(connectorOf!), cid)).toBe(1);
    back.socket.close();
    await paused.stop('SIGTERM');
  });

  test('a SIGKILLed connector leaves nobody online once the reaper has run', async () => {
    const doomed = await stack.startConnector();
    const victims = await Promise.all(
      ['k1', 'k2', 'k3'].map(async (uuid) => {
        const c = await use.connect(doomed.port, '/demo', { uuid });
        opened.push(c);
        await emitWithAck(c.socket, 'joinRoom', 'reap');
        return c;
      }),
    );
    expect(await redis.scard(keys.roomOnline('/demo', 'reap'))).toBe(3);
    await doomed.stop('SIGKILL');
    // The reaper marks each client offline in its rooms, then writes its record: wait for the records.
    const reasons = () => Promise.all(['k1', 'k2', 'k3'].map((uuid) => redis.hget(keys.client(`/demo#${uuid}#web-${uuid}`), 'disconnect_reason')));
    await until(async () => ((await reasons()).every((reason) => reason === 'connector lost') ? true : undefined), 5000);
    expect(await redis.scard(keys.roomOnline('/demo', 'reap'))).toBe(0);
    expect(await redis.scard(keys.roomMembers('/demo', 'reap'))).toBe(3);
    expect(await redis.scard(keys.roomOnline('/demo', 'user_k1'))).toBe(0);
    expect(victims).toHaveLength(3);
  });
});
