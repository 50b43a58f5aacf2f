/**
 * The sessions protocol (seed 003, yunity-sockets; issue 16), end to end on real processes: two
 * connectors, two logic processes and a worker on Herald's Redis, and the application's own Redis (a second
 * redis-server) holding the sessions and carrying the `notifications` channel. Clients are the
 * seed's: socket.io v2 (Engine.IO 3, what socket.io 1.x/2.x spoke) on the root namespace of path
 * `/socket`, which HERALD_SOCKET_PATHS maps to the namespace; one v4 client shows the stock client
 * works too.
 */
import { io } from 'socket.io-client';
import { Redis } from 'ioredis';
import { startRedis, startService, until, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { ADMIN, startStack, type Stack } from './support/stack';

// socket.io-client@2 (Engine.IO 3), installed under an alias beside v4; it ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioV2: (url: string, options: object) => SeedSocket = require('socket.io-client-v2');

interface SeedSocket {
  id: string;
  connected: boolean;
  on(event: string, listener: (...args: any[]) => void): void;
  once(event: string, listener: (...args: any[]) => void): void;
  emit(event: string, ...args: unknown[]): void;
  close(): void;
}

interface SeedClient {
  readonly socket: SeedSocket;
  /** Every `message` this client got, in order. */
  readonly messages: unknown[];
}

const NS = '/yunity';
let stack: Stack;
let worker: ServiceProcess;
/** A second logic process: notifications must still reach each socket once (logic does not subscribe). */
let logic2: ServiceProcess;
let appServer: TestRedis;
/** The application's Redis, as Django writes it. */
let app: Redis;
const opened: SeedSocket[] = [];

function connectorPort(i: number): number {
  return stack.connectors[i]!.port;
}

/** A seed client: `require('socket.io-client')('http://host', {path: '/socket'})`, recording `message`. */
async function seedClient(connector: number, options: { version?: 'v2' | 'v4'; headers?: Record<string, string> } = {}): Promise<SeedClient> {
  const url = `http://127.0.0.1:${connectorPort(connector)}`;
  const settings = { path: '/socket', transports: ['websocket'], reconnection: false, forceNew: true, ...(options.headers ? { extraHeaders: options.headers } : {}) };
  const socket = (options.version ?? 'v2') === 'v4' ? (io(url, settings) as unknown as SeedSocket) : ioV2(url, settings);
  opened.push(socket);
  const messages: unknown[] = [];
  socket.on('message', (data: unknown) => messages.push(data));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
    socket.once('error', reject);
  });
  return { socket, messages };
}

interface AdminConnection {
  connectionId: string;
  sessionId: string;
  userId: string;
  handshake: { headers: Record<string, string>; url: string; query: Record<string, string>; address: string; issued: number };
}

async function connections(namespace = NS): Promise<AdminConnection[]> {
  const answer = await stack.api(`/api/admin/namespace/connections/${encodeURIComponent(namespace)}`, { auth: ADMIN });
  expect(answer.status).toBe(200);
  return answer.body.connections;
}

/** The seed client's flow: `authenticate {sessionId}`, then (Herald answers nothing) wait until the admin view shows the binding. */
async function authenticate(client: SeedClient, sessionId: string, expectedUser: string): Promise<void> {
  // Other sockets may already be bound with this session (tabs sharing it): wait for one more.
  const before = await boundSockets(sessionId, expectedUser);
  client.socket.emit('authenticate', { sessionId });
  await until(async () => ((await boundSockets(sessionId, expectedUser)) > before ? true : undefined), 10_000);
}

async function boundSockets(sessionId: string, userId: string): Promise<number> {
  return (await connections()).filter((c) => c.sessionId === sessionId && c.userId === userId).length;
}

/**
 * Publishes `payload` on the channel, then a marker to `markUsers`, and waits until every client in
 * `watch` has the marker: whatever the payload brought has arrived by then (one channel, one
 * subscriber connection per connector, delivered in order).
 */
async function publishAndSettle(payload: string, watch: readonly SeedClient[], channel = 'notifications'): Promise<void> {
  const marker = { marker: Math.random().toString(36).slice(2) };
  await app.publish(channel, payload);
  await app.publish(channel, JSON.stringify({ users: ['marker-user'], data: marker }));
  // The marker user is bound on each watched client's connector (marker sockets below).
  await until(async () => (markers.every((m) => m.messages.some((x) => JSON.stringify(x) === JSON.stringify(marker))) ? true : undefined), 10_000);
  void watch;
}

/** One socket of `marker-user` per connector: when both have the marker, both connectors processed everything before it. */
const markers: SeedClient[] = [];

function withoutMarkers(client: SeedClient): unknown[] {
  return client.messages.filter((m) => !(m && typeof m === 'object' && 'marker' in m));
}

async function saveNamespace(body: Record<string, unknown>) {
  return stack.api('/api/admin/namespace/save', { auth: ADMIN, body });
}

beforeAll(async () => {
  appServer = await startRedis();
  app = new Redis(appServer.url);
  stack = await startStack({
    connectors: 2,
    env: { HERALD_SOCKET_PATHS: '/socket.io,/socket=/yunity', HERALD_CONNECTOR_HEARTBEAT_MS: '300' },
  });
  [worker, logic2] = await Promise.all([startService('worker', { env: stack.env }), startService('logic', { env: stack.env })]);
  expect(await saveNamespace({ key: NS, auth_passwd: 'pw', protocol: 'sessions', settings: { session_redis_url: appServer.url } })).toEqual({ status: 200, body: {} });
  await app.set('session-store-marker-session', 'marker-user');
  for (const connector of [0, 1]) {
    const marker = await seedClient(connector);
    await authenticate(marker, 'marker-session', 'marker-user');
    markers.push(marker);
  }
  await until(async () => ((await boundSockets('marker-session', 'marker-user')) === 2 ? true : undefined), 10_000);
}, 60_000);

afterAll(async () => {
  for (const socket of opened) socket.close();
  await app?.quit();
  const codes = await Promise.all([worker?.stop(), stack?.stop(), logic2?.stop()]);
  await appServer?.stop();
  expect(codes[0]).toBe(0);
  expect(codes[2]).toBe(0);
  // The second connector was SIGKILLed by the last test.
  expect(codes[1]).toEqual([0, 0, null]);
}, 30_000);

describe('settings', () => {
  test('the session Redis URL is write-only; defaults are the seed’s; a bad setting changes nothing', async () => {
    const list = await stack.api(`/api/admin/namespace/list?key=${encodeURIComponent(NS)}`, { auth: ADMIN });
    expect(list.body.list[0]).toMatchObject({ key: NS, protocol: 'sessions', settings: { session_redis_url_set: true } });
    expect(JSON.stringify(list.body)).not.toContain(appServer.url);
    for (const settings of [{ session_redis_url: 'http://x' }, { session_key_prefix: 'a*' }, { notifications_channel: '' }, { colour: 'red' }]) {
      const answer = await saveNamespace({ key: NS, settings });
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe('PROTOCOL_SETTINGS_INVALID');
    }
    const after = await stack.api(`/api/admin/namespace/list?key=${encodeURIComponent(NS)}`, { auth: ADMIN });
    expect(after.body.list[0].settings).toEqual(list.body.list[0].settings);
  });
});

describe('authenticate and notifications', () => {
  test('a session’s user gets {users, data} on every socket, on both connectors, exactly once; others get nothing', async () => {
    await app.set('session-store-s-alice-laptop', 'alice');
    await app.set('session-store-s-alice-phone', 'alice');
    await app.set('session-store-s-nouser', '');
    const laptop = await seedClient(0);
    const phone = await seedClient(1, { version: 'v4' });
    const bob = await seedClient(1);
    const anonymous = await seedClient(0);
    await authenticate(laptop, 's-alice-laptop', 'alice');
    await authenticate(phone, 's-alice-phone', 'alice');
    // No user for this session: the socket stays connected and gets nothing.
    bob.socket.emit('authenticate', { sessionId: 's-unknown' });
    await until(async () => ((await connections()).some((c) => c.sessionId === 's-unknown' && c.userId === '__nouser__') ? true : undefined));

    await publishAndSettle(JSON.stringify({ users: ['alice', 'carol'], data: { any: 'valid', json: 'in here' } }), [laptop, phone]);
    expect(withoutMarkers(laptop)).toEqual([{ any: 'valid', json: 'in here' }]);
    expect(withoutMarkers(phone)).toEqual([{ any: 'valid', json: 'in here' }]);
    expect(withoutMarkers(bob)).toEqual([]);
    expect(withoutMarkers(anonymous)).toEqual([]);
    expect(bob.socket.connected && anonymous.socket.connected).toBe(true);
    // Two connectors and two logic processes run: the channel has one subscriber per connector, none in logic.
    expect(await app.publish('notifications', JSON.stringify({ users: ['nobody'], data: 0 }))).toBe(2);
    // One subscriber and one command connection per connector to the application Redis, not one per socket.
    const names = ((await app.client('LIST')) as string).split('\n').map((line) => /name=(\S*)/.exec(line)?.[1]);
    expect(names.filter((name) => name === 'herald-sessions-sub')).toHaveLength(2);
    expect(names.filter((name) => name === 'herald-sessions-commands')).toHaveLength(2);
  });

  test('numeric user ids (Django’s) match the session’s value; the seed’s HEAD form emits everything but users', async () => {
    await app.set('session-store-s-79', '79');
    const client = await seedClient(1);
    await authenticate(client, 's-79', '79');
    await publishAndSettle(JSON.stringify({ users: [23, 79, 12], data: { type: 'chat_message', data: { chat_id: 3434 } } }), [client]);
    await publishAndSettle(JSON.stringify({ users: [79], type: 'conversation:message', payload: { id: 1 }, context: 'x' }), [client]);
    expect(withoutMarkers(client)).toEqual([{ type: 'chat_message', data: { chat_id: 3434 } }, { type: 'conversation:message', payload: { id: 1 }, context: 'x' }]);
  });

  test('malformed notifications are ignored, counted by reason and logged once per reason; nothing crashes', async () => {
    await app.set('session-store-s-dave', 'dave');
    const client = await seedClient(0);
    await authenticate(client, 's-dave', 'dave');
    const bad = [
      'not json',
      'not json either',
      '[1,2]',
      '"text"',
      JSON.stringify({ users: 'dave', data: 1 }),
      JSON.stringify({ users: [{ id: 'dave' }], data: 1 }),
      JSON.stringify({ users: ['dave'] }),
      JSON.stringify({ users: ['dave'], type: 'x' }),
    ];
    for (const text of bad) await app.publish('notifications', text);
    await publishAndSettle(JSON.stringify({ users: ['dave'], data: 'after' }), [client]);
    expect(withoutMarkers(client)).toEqual(['after']);
    for (const connector of stack.connectors) {
      const metrics = await (await fetch(`http://127.0.0.1:${connector.port}/metrics`)).text();
      expect(metrics).toMatch(/herald_sessions_notifications_total\{outcome="json_invalid"\} 2\b/);
      expect(metrics).toMatch(/herald_sessions_notifications_total\{outcome="not_object"\} 2\b/);
      expect(metrics).toMatch(/herald_sessions_notifications_total\{outcome="users_invalid"\} 2\b/);
      expect(metrics).toMatch(/herald_sessions_notifications_total\{outcome="data_missing"\} 1\b/);
      expect(metrics).toMatch(/herald_sessions_notifications_total\{outcome="payload_missing"\} 1\b/);
      const lines = connector.logs.filter((line) => line.msg === 'sessions: notification ignored');
      expect(lines.map((line) => line['reason']).sort()).toEqual(['data_missing', 'json_invalid', 'not_object', 'payload_missing', 'users_invalid']);
      // The content of a refused message is never logged.
      expect(JSON.stringify(connector.logs)).not.toContain('not json');
    }
  });

  test('a bad authenticate payload is ignored, a flood is coalesced, and the socket stays usable', async () => {
    await app.set('session-store-s-erin', 'erin');
    const client = await seedClient(1);
    for (const payload of [undefined, 'text', [], { sessionId: 5.5e400 }, { sessionId: '' }, { sessionId: 'x'.repeat(300) }, { sessionId: { $gt: '' } }]) {
      client.socket.emit('authenticate', payload);
    }
    // A flood of authenticates is coalesced (one lookup in flight per socket): the last one wins.
    for (let i = 0; i < 300; i++) client.socket.emit('authenticate', { sessionId: `s-flood-${i}` });
    await authenticate(client, 's-erin', 'erin');
    expect((await connections()).filter((c) => c.sessionId.startsWith('s-flood-'))).toEqual([]);
    await publishAndSettle(JSON.stringify({ users: ['erin'], data: 1 }), [client]);
    expect(withoutMarkers(client)).toEqual([1]);
  });
});

describe('live re-binding on keyspace notifications', () => {
  test('a session set to another user, deleted, set again and expired re-binds its sockets on both connectors', async () => {
    await app.set('session-store-s-shared', 'frank');
    const tab0 = await seedClient(0);
    const tab1 = await seedClient(1);
    await authenticate(tab0, 's-shared', 'frank');
    await authenticate(tab1, 's-shared', 'frank');
    const both = async (user: string) => ((await boundSockets('s-shared', user)) === 2 ? true : undefined);

    // Django logs the session in as another user.
    await app.set('session-store-s-shared', 'grace');
    await until(() => both('grace'), 10_000);
    await publishAndSettle(JSON.stringify({ users: ['frank'], data: 'to frank' }), [tab0, tab1]);
    await publishAndSettle(JSON.stringify({ users: ['grace'], data: 'to grace' }), [tab0, tab1]);
    expect(withoutMarkers(tab0)).toEqual(['to grace']);
    expect(withoutMarkers(tab1)).toEqual(['to grace']);

    // Logged out: the sockets stay connected and get nothing.
    await app.del('session-store-s-shared');
    await until(() => both('__nouser__'), 10_000);
    await publishAndSettle(JSON.stringify({ users: ['grace'], data: 'after logout' }), [tab0, tab1]);
    expect(withoutMarkers(tab0)).toEqual(['to grace']);

    // Logged in again with the same session: re-attached (the seed's HEAD forgot the session here).
    await app.set('session-store-s-shared', 'grace', 'PX', 700);
    await until(() => both('grace'), 10_000);
    await publishAndSettle(JSON.stringify({ users: ['grace'], data: 'again' }), [tab0, tab1]);
    expect(withoutMarkers(tab1)).toEqual(['to grace', 'again']);

    // The session expires.
    await until(() => both('__nouser__'), 10_000);
    await publishAndSettle(JSON.stringify({ users: ['grace'], data: 'expired' }), [tab0, tab1]);
    expect(withoutMarkers(tab0)).toEqual(['to grace', 'again']);
    expect(withoutMarkers(tab1)).toEqual(['to grace', 'again']);
    for (const connector of stack.connectors) {
      const metrics = await (await fetch(`http://127.0.0.1:${connector.port}/metrics`)).text();
      expect(metrics).toMatch(/herald_sessions_rebinds_total\{namespace="\/yunity",event="expired"\} 1\b/);
    }
  });
});

describe('admin connections', () => {
  test('every connection on every connector, __nosession__ / __nouser__, cookies and authorization redacted', async () => {
    const secret = await seedClient(1, { headers: { cookie: 'sessionid=s-secret; csrftoken=abc', authorization: 'Bearer t0ken', 'x-app': 'yunity' } });
    await app.set('session-store-s-secret', 'heidi');
    // The connector records a connection in its serial queue after the client got `connect`: the
    // view shows it a moment later (one such run on a loaded machine asked before it was there).
    const mine = await until(async () => {
      const found = (await connections()).filter((c) => c.sessionId === '__nosession__' && c.handshake.headers['x-app'] === 'yunity');
      return found.length > 0 ? found : undefined;
    }, 10_000);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ userId: '__nouser__', handshake: { headers: { cookie: '[redacted]', authorization: '[redacted]' }, url: expect.stringMatching(/^\/socket\/\?EIO=3&transport=websocket/) } });
    await authenticate(secret, 's-secret', 'heidi');
    const list = await connections('yunity');
    expect(JSON.stringify(list)).not.toContain('t0ken');
    expect(JSON.stringify(list)).not.toContain('csrftoken');
    // Both connectors' sockets are listed (markers: one on each).
    expect(list.filter((c) => c.sessionId === 'marker-session')).toHaveLength(2);
    expect(new Set(list.map((c) => c.connectionId)).size).toBe(list.length);
    // Session ids are the application's credentials: shown to the admin, never logged.
    for (const connector of stack.connectors) expect(JSON.stringify(connector.logs) + connector.raw.join('\n')).not.toContain('s-secret');
  });

  test('a namespace of another protocol, an unknown or invalid one: precise errors', async () => {
    expect(await saveNamespace({ key: '/pushy', auth_passwd: 'pw' })).toEqual({ status: 200, body: {} });
    expect(await stack.api('/api/admin/namespace/connections/pushy', { auth: ADMIN })).toEqual({
      status: 400,
      body: { code: 'NAMESPACE_NOT_SESSIONS', msg: 'namespace does not use the sessions protocol: push' },
    });
    expect((await stack.api('/api/admin/namespace/connections/nope', { auth: ADMIN })).body.code).toBe('NAMESPACE_NOT_FOUND');
    expect((await stack.api('/api/admin/namespace/connections/a:b', { auth: ADMIN })).body.code).toBe('NAMESPACE_INVALID');
    expect((await stack.api('/api/admin/namespace/connections/yunity')).body).toEqual({ code: 'NEED_AUTHORIZATION', msg: 'need authorization' });
  });
});

describe('a connector SIGKILLed', () => {
  test('the other connector keeps delivering exactly once; a client reconnecting there authenticates again; the dead one’s connections leave the admin view', async () => {
    await app.set('session-store-s-ivan-a', 'ivan');
    await app.set('session-store-s-ivan-b', 'ivan');
    const survivor = await seedClient(0);
    const victim = await seedClient(1);
    await authenticate(survivor, 's-ivan-a', 'ivan');
    await authenticate(victim, 's-ivan-b', 'ivan');
    const gone = new Promise((resolve) => victim.socket.once('disconnect', resolve));
    expect(await stack.connectors[1]!.stop('SIGKILL')).toBeNull();
    await gone;
    // The marker of the dead connector is gone too: settle on the survivor's marker only.
    markers.splice(1, 1);
    await app.publish('notifications', JSON.stringify({ users: ['ivan'], data: 'while one is down' }));
    await publishAndSettle(JSON.stringify({ users: ['ivan'], data: 'second' }), [survivor]);
    expect(withoutMarkers(survivor)).toEqual(['while one is down', 'second']);

    // Reaped: the dead connector's connection leaves the admin view (until then it is listed, and
    // would also make the authenticate below look bound before the new socket is).
    await until(async () => ((await boundSockets('s-ivan-b', 'ivan')) === 0 ? true : undefined), 15_000);

    // The seed client reconnects (to a live connector) and authenticates again, as its `connect` handler does.
    const back = await seedClient(0);
    await authenticate(back, 's-ivan-b', 'ivan');
    await publishAndSettle(JSON.stringify({ users: ['ivan'], data: 'third' }), [survivor, back]);
    expect(withoutMarkers(back)).toEqual(['third']);
    expect(withoutMarkers(survivor)).toEqual(['while one is down', 'second', 'third']);

    // Keyspace re-binding still works on the survivor.
    await app.set('session-store-s-ivan-b', 'judy');
    await until(async () => ((await boundSockets('s-ivan-b', 'judy')) === 1 ? true : undefined), 10_000);

    // Nothing of the dead connector came back, and one marker connection is left.
    expect((await connections()).filter((c) => c.sessionId === 's-ivan-b' && c.userId === 'ivan')).toEqual([]);
    expect((await connections()).filter((c) => c.sessionId === 'marker-session')).toHaveLength(1);
  }, 40_000);
});
