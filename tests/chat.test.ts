/**
 * The chat protocol (seed 004, xRealtime; issue 17) on real processes: Redis, logic, two connectors,
 * a worker and the APNs mock. Seed clients are socket.io v2 clients of the root namespace on path
 * `/wechat` (HERALD_SOCKET_PATHS `/wechat=/chat`); every event, text and status code of
 * docs/protocols/chat.md, direct results online/offline across connectors, the inbox replayed after
 * `logIn`, APNs for an offline iOS user.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { Keys } from '@herald/store';
import { startApnsMock, startService, until, type ApnsMock, type ServiceProcess } from '@herald/test-support';
import { basic } from './support/clients';
import { call, chatClient as openChat, nextMessage, type ChatClient, type ChatSocket } from './support/chat';
import { ADMIN, startStack, type Stack } from './support/stack';

const TOPIC = 'com.herald.chat';
const NS = '/chat';
const AUTH = basic(NS, 'pw');
const keys = new Keys('h:');
let stack: Stack;
let worker: ServiceProcess;
let mock: ApnsMock;
let redis: Redis;
const opened: ChatSocket[] = [];
const deviceToken = () => randomBytes(32).toString('hex');

beforeAll(async () => {
  mock = await startApnsMock({ topics: [TOPIC] });
  stack = await startStack({ connectors: 2, env: { HERALD_OFFLINE_DELAY_MS: '200', HERALD_SOCKET_PATHS: '/socket.io,/wechat=/chat' } });
  worker = await startService('worker', {
    env: { ...stack.env, HERALD_APNS_HOST: '127.0.0.1', HERALD_APNS_PORT: String(mock.port), HERALD_APNS_CA: mock.caFile },
  });
  redis = new Redis(stack.redis.url);
  const key = mock.providerKey!;
  const saved = await Promise.all([
    stack.api('/api/admin/namespace/save', {
      auth: ADMIN,
      body: { key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] },
    }),
    stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, auth_passwd: 'pw', protocol: 'chat' } }),
    stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/pushns', auth_passwd: 'pw' } }),
  ]);
  expect(saved.map((s) => s.status)).toEqual([200, 200, 200]);
});

afterAll(async () => {
  for (const socket of opened) socket.close();
  await redis.quit();
  expect(await worker.stop()).toBe(0);
  expect(await stack.stop()).toEqual([0, 0, 0]);
  await mock.close();
});

/** A seed client of connector `connector` (tests/support/chat.ts). */
const chatClient = (connector: number, version: 'v2' | 'v4' = 'v2'): Promise<ChatClient> => openChat(stack.connectors[connector]!.port, opened, version);

/** A logged-in client: its session token. */
async function loggedIn(connector: number, userId: string, version: 'v2' | 'v4' = 'v2'): Promise<ChatClient & { token: string }> {
  const client = await chatClient(connector, version);
  const answer = await call(client.socket, 'logIn', { userId, socketId: client.socketId });
  expect(answer).toMatchObject({ statusCode: 200 });
  // The user is online cluster-wide once logIn answered.
  expect(await redis.scard(keys.roomOnline(NS, `user_${userId}`))).toBeGreaterThan(0);
  return { ...client, token: answer.body.sessionToken };
}

async function close(client: ChatClient, userId?: string): Promise<void> {
  const gone = new Promise((r) => client.socket.once('disconnect', r));
  client.socket.close();
  await gone;
  if (userId) await until(async () => ((await redis.scard(keys.roomOnline(NS, `user_${userId}`))) === 0 ? true : undefined));
}

const tokenKey = (token: string) => `h:{${NS}}:chat:tok:${token}`;

describe('namespace settings', () => {
  test('the chat settings are checked, stored and shown; a setting of another protocol is refused', async () => {
    const bad = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, settings: { session_token_ttl: 5 } } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'PROTOCOL_SETTINGS_INVALID' });
    const unknown = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, settings: { force_user_auth: true } } });
    expect(unknown.body).toMatchObject({ code: 'PROTOCOL_SETTINGS_INVALID' });
    const good = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, settings: { session_token_ttl: 600, apns_title: '您有一条未读消息' } } });
    expect(good).toEqual({ status: 200, body: {} });
    const list = await stack.api(`/api/admin/namespace/list?key=${encodeURIComponent(NS)}`, { auth: ADMIN });
    expect(list.body.list[0]).toMatchObject({ key: NS, protocol: 'chat', settings: { session_token_ttl: 600, apns_title: '您有一条未读消息' } });
  });
});

describe('connect and logIn', () => {
  test.each(['v2', 'v4'] as const)('%s: `connected {socketId}` on connect, then logIn answers 200 with a 32-hex session token bound to the socket', async (version) => {
    await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, settings: { session_token_ttl: 600 } } });
    const client = await chatClient(0, version);
    expect(client.socketId).toEqual(expect.any(String));
    const answer = await call(client.socket, 'logIn', { userId: `hello-${version}`, socketId: client.socketId });
    expect(answer).toEqual({ statusCode: 200, body: { userId: `hello-${version}`, socketId: client.socketId, sessionToken: expect.stringMatching(/^[0-9a-f]{32}$/) } });
    const ttl = await redis.ttl(tokenKey(answer.body.sessionToken));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(JSON.parse((await redis.get(tokenKey(answer.body.sessionToken)))!)).toEqual({ userId: `hello-${version}`, socketId: expect.any(String) });
    // The socket is that user's client in the records.
    expect(await redis.hget(keys.client(`${NS}#hello-${version}#web-chat`), 'userid')).toBe(`hello-${version}`);
    // Removed on disconnect.
    await close(client, `hello-${version}`);
    await until(async () => ((await redis.exists(tokenKey(answer.body.sessionToken))) === 0 ? true : undefined));
  });

  test('missing or malformed fields get an error answer, not silence; a socketId that is not the caller’s is refused', async () => {
    const client = await chatClient(1);
    expect(await call(client.socket, 'logIn', { userId: 'junwu' })).toEqual({
      statusCode: 400,
      body: { code: 'CHAT_PAYLOAD_INVALID', msg: expect.stringContaining('socketId') },
    });
    expect(await call(client.socket, 'logIn', { socketId: client.socketId })).toEqual({ statusCode: 400, body: { code: 'CHAT_PAYLOAD_INVALID', msg: expect.stringContaining('userId') } });
    expect(await call(client.socket, 'logIn', 'junwu')).toEqual({ statusCode: 400, body: { code: 'CHAT_PAYLOAD_INVALID', msg: 'payload invalid: must be an object' } });
    expect(await call(client.socket, 'logIn', { userId: 'a b', socketId: client.socketId })).toMatchObject({ statusCode: 400, body: { code: 'CHAT_PAYLOAD_INVALID' } });
    const other = await chatClient(1);
    expect(await call(client.socket, 'logIn', { userId: 'junwu', socketId: other.socketId })).toEqual({
      statusCode: 403,
      body: { code: 'CHAT_SOCKET_MISMATCH', msg: 'socketId is not the id of this connection' },
    });
    // Nothing changed: the socket is nobody, junwu has no client online.
    expect(await redis.scard(keys.roomOnline(NS, 'user_junwu'))).toBe(0);
    // A payload that is no payload at all does not crash the connector.
    client.socket.emit('logIn');
    client.socket.emit('message/direct', null);
    const fine = await call(client.socket, 'logIn', { userId: 'survivor', socketId: client.socketId });
    expect(fine.statusCode).toBe(200);
  });

  test('a session token works only on its own socket, only while it lives, and a new logIn replaces it', async () => {
    const a = await loggedIn(0, 'tok-a');
    const b = await loggedIn(1, 'tok-b');
    const send = (client: ChatClient, sessionToken: string) => call(client.socket, 'message/direct', { sessionToken, targetIds: ['tok-b'], type: 'text', textContent: 'x' });
    const refused = { statusCode: 401, body: { code: 'CHAT_TOKEN_INVALID', msg: 'sessionToken invalid or expired' } };
    expect(await send(b, a.token)).toEqual(refused);
    expect(await send(a, 'ffffffffffffffffffffffffffffffff')).toEqual(refused);
    expect(await send(a, a.token)).toMatchObject({ statusCode: 201 });
    // Logging in again hands out a new token; the old one is gone.
    const again = await call(a.socket, 'logIn', { userId: 'tok-a', socketId: a.socketId });
    expect(again.body.sessionToken).not.toBe(a.token);
    expect(await send(a, a.token)).toEqual(refused);
    expect(await redis.exists(tokenKey(a.token))).toBe(0);
    // Expired (the key's TTL ran out): refused.
    await redis.pexpire(tokenKey(again.body.sessionToken), 1);
    await until(async () => ((await redis.exists(tokenKey(again.body.sessionToken))) === 0 ? true : undefined));
    expect(await send(a, again.body.sessionToken)).toEqual(refused);
    // Anonymous sockets have no session at all.
    const nobody = await chatClient(0);
    expect(await send(nobody, a.token)).toEqual(refused);
  });
  test('a v2 client may name its own `socket.id` (the Engine.IO id) instead of the one `connected` sent', async () => {
    const client = await chatClient(1, 'v2');
    const answer = await call(client.socket, 'logIn', { userId: 'ownid', socketId: client.socket.id });
    expect(answer).toMatchObject({ statusCode: 200, body: { userId: 'ownid', socketId: client.socket.id } });
  });

  test('logging in again as another user moves the socket: the old user is offline and gets nothing on it', async () => {
    const client = await loggedIn(0, 'first-user');
    const answer = await call(client.socket, 'logIn', { userId: 'second-user', socketId: client.socketId });
    expect(answer.statusCode).toBe(200);
    expect(await redis.scard(keys.roomOnline(NS, 'user_first-user'))).toBe(0);
    expect(await redis.scard(keys.roomOnline(NS, 'user_second-user'))).toBe(1);
    const sender = await loggedIn(1, 'mover');
    const sent = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['first-user', 'second-user'], type: 'text', textContent: 'who?' });
    expect(sent.body.sent).toEqual({ online: ['second-user'], offline: ['first-user'] });
    expect((await nextMessage(client)).map((m) => m.metaData.textContent)).toEqual(['who?']);
    await new Promise((r) => setTimeout(r, 200));
    expect(client.messages).toHaveLength(1);
  });

  test('a user logged in from two sockets on two connectors gets each message on both', async () => {
    const phone = await loggedIn(0, 'twice');
    const laptop = await loggedIn(1, 'twice');
    const sender = await loggedIn(0, 'twice-sender');
    const sent = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['twice'], type: 'text', textContent: 'both' });
    expect(sent.body.sent).toEqual({ online: ['twice'], offline: [] });
    expect(await nextMessage(phone)).toEqual([{ metaData: expect.objectContaining({ textContent: 'both' }), id: sent.body.id }]);
    expect(await nextMessage(laptop)).toEqual([{ metaData: expect.objectContaining({ textContent: 'both' }), id: sent.body.id }]);
    // Each socket keeps its own token.
    expect(phone.token).not.toBe(laptop.token);
    expect(await call(laptop.socket, 'message/direct', { sessionToken: phone.token, targetIds: ['x'] })).toMatchObject({ statusCode: 401 });
    // The latest socket goes first: the user counts as offline, the older socket still gets the
    // message live, and it waits in the inbox too (a duplicate, never a loss: docs/protocols/chat.md).
    await close(laptop, 'twice');
    const after = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['twice'], type: 'text', textContent: 'after' });
    expect(after.body.sent).toEqual({ online: [], offline: ['twice'] });
    expect((await nextMessage(phone, 2))[1]).toEqual({ metaData: expect.objectContaining({ textContent: 'after' }), id: after.body.id });
  });
});

describe('message/direct', () => {
  test('online targets on either connector get `message {metaData, id}`; the ack tells online and offline cluster-wide', async () => {
    const junwu = await loggedIn(0, 'junwu');
    const weichi = await loggedIn(1, 'weichi');
    const near = await loggedIn(0, 'near');
    const answer = await call(junwu.socket, 'message/direct', {
      sessionToken: junwu.token,
      targetIds: ['weichi', 'ghost', 'near', 'weichi'],
      type: 'text',
      textContent: '你是猴子么？',
    });
    expect(answer).toEqual({ statusCode: 201, body: { id: expect.stringMatching(/^[A-Za-z0-9]{10}$/), sent: { online: ['weichi', 'near'], offline: ['ghost'] } } });
    const expected = {
      metaData: { targetIds: ['weichi', 'ghost', 'near', 'weichi'], type: 'text', textContent: '你是猴子么？', from: 'junwu' },
      id: answer.body.id,
    };
    expect(await nextMessage(weichi)).toEqual([expected]);
    expect(await nextMessage(near)).toEqual([expected]);
    // Once only, and not to the sender.
    await new Promise((r) => setTimeout(r, 200));
    expect(weichi.messages).toHaveLength(1);
    expect(junwu.messages).toEqual([]);
    // One Herald push per target, each with its delivery report (what the connectors wrote it to).
    const reports = await until(async () => {
      const list = (await stack.api('/api/auth/report/push?size=50', { auth: AUTH })).body as any[];
      const mine = list.filter((r) => r.pushData.id === answer.body.id).sort((a, b) => a.room.localeCompare(b.room));
      return mine.length === 3 && mine.every((r) => r.room === 'user_ghost' || r.onlineClientCount === 1) ? mine : undefined;
    });
    expect(reports.map((r: any) => [r.room, r.onlineClientCount, r.leaveMessage])).toEqual([
      ['user_ghost', 0, true],
      ['user_near', 1, false],
      ['user_weichi', 1, false],
    ]);
  });

  test('bad payloads: an error answer naming the problem, nothing sent', async () => {
    const sender = await loggedIn(0, 'badsender');
    const target = await loggedIn(1, 'badtarget');
    const cases: [unknown, number, string][] = [
      [{ targetIds: ['badtarget'], type: 'text', textContent: 'x' }, 400, 'CHAT_PAYLOAD_INVALID'],
      [{ sessionToken: sender.token, type: 'text', textContent: 'x' }, 400, 'CHAT_PAYLOAD_INVALID'],
      [{ sessionToken: sender.token, targetIds: [], textContent: 'x' }, 400, 'CHAT_PAYLOAD_INVALID'],
      [{ sessionToken: sender.token, targetIds: 'badtarget', textContent: 'x' }, 400, 'CHAT_PAYLOAD_INVALID'],
      [{ sessionToken: sender.token, targetIds: ['bad target'], textContent: 'x' }, 400, 'CHAT_PAYLOAD_INVALID'],
      [[1, 2], 400, 'CHAT_PAYLOAD_INVALID'],
      [{ sessionToken: sender.token, targetIds: ['badtarget'], textContent: 'x'.repeat(40_000) }, 413, 'CHAT_MESSAGE_TOO_LARGE'],
    ];
    for (const [payload, statusCode, code] of cases) {
      expect({ payload, answer: await call(sender.socket, 'message/direct', payload) }).toMatchObject({ answer: { statusCode, body: { code } } });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(target.messages).toEqual([]);
  });

  test('an offline target keeps the message in its inbox: replayed after its next logIn, on any connector, once', async () => {
    const sender = await loggedIn(0, 'sender1');
    const first = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['later'], type: 'text', textContent: 'one' });
    const second = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['later'], type: 'image', url: 'http://x/y.png' });
    expect([first.body.sent, second.body.sent]).toEqual([
      { online: [], offline: ['later'] },
      { online: [], offline: ['later'] },
    ]);
    // In the user's inbox for `message_expire` (default 10 hours).
    const inboxTtl = await redis.pttl(keys.clientInbox(`${NS}#later#web-chat`));
    expect(inboxTtl).toBeGreaterThan(9.9 * 3_600_000);
    expect(inboxTtl).toBeLessThanOrEqual(10 * 3_600_000);
    const later = await chatClient(1);
    // Nothing before logIn.
    await new Promise((r) => setTimeout(r, 100));
    expect(later.messages).toEqual([]);
    const order: string[] = [];
    later.socket.on('message', () => order.push('message'));
    const answer = await call(later.socket, 'logIn', { userId: 'later', socketId: later.socketId });
    order.unshift('ack');
    expect(answer.statusCode).toBe(200);
    expect(await nextMessage(later, 2)).toEqual([
      { metaData: { targetIds: ['later'], type: 'text', textContent: 'one', from: 'sender1' }, id: first.body.id },
      { metaData: { targetIds: ['later'], type: 'image', url: 'http://x/y.png', from: 'sender1' }, id: second.body.id },
    ]);
    expect(order[0]).toBe('ack');
    // Replayed once: a later logIn (another socket, other connector) gets nothing again.
    await close(later, 'later');
    const again = await chatClient(0);
    await call(again.socket, 'logIn', { userId: 'later', socketId: again.socketId });
    await new Promise((r) => setTimeout(r, 300));
    expect(again.messages).toEqual([]);
  });

  test('a REST push to a chat user reaches it as `message` (pushData as metaData, the Herald id as id)', async () => {
    const user = await loggedIn(1, 'restuser');
    const { body } = await stack.api('/api/auth/push', { auth: AUTH, body: { room: 'user_restuser', pushData: { type: 'system', text: 'hi' } } });
    expect(body).toEqual({ id: expect.any(Number), expectAckCount: 1 });
    expect(await nextMessage(user)).toEqual([{ metaData: { type: 'system', text: 'hi' }, id: String(body.id) }]);
  });
});

describe('APNs for offline iOS users', () => {
  test('a device registered over REST gets the seed’s alert (title, text as body, sound, id) through the APNs mock', async () => {
    const token = deviceToken();
    const registered = await stack.api('/api/auth/chat/device', { auth: AUTH, body: { userId: 'iosuser', deviceToken: token } });
    expect(registered).toEqual({ status: 200, body: { userId: 'iosuser', registered: true } });
    const sender = await loggedIn(0, 'apnssender');
    const answer = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['iosuser'], type: 'text', textContent: '在吗？' });
    expect(answer.body.sent).toEqual({ online: [], offline: ['iosuser'] });
    const [request] = await until(async () => {
      const sent = mock.requests.filter((r) => r.token === token);
      return sent.length > 0 ? sent : undefined;
    }, 15_000);
    expect(request).toMatchObject({ status: 200, headers: { 'apns-topic': TOPIC, 'apns-push-type': 'alert' } });
    expect(request!.payload).toEqual({ aps: { alert: { title: '您有一条未读消息', body: '在吗？' }, sound: 'default' }, id: answer.body.id });
    // And the message waits in the inbox for the next logIn too.
    const back = await chatClient(1);
    await call(back.socket, 'logIn', { userId: 'iosuser', socketId: back.socketId });
    expect(await nextMessage(back)).toEqual([{ metaData: { targetIds: ['iosuser'], type: 'text', textContent: '在吗？', from: 'apnssender' }, id: answer.body.id }]);
  }, 30_000);

  test('a device registered with the `device/register` event; an online user gets no APNs; `null` removes the device', async () => {
    const token = deviceToken();
    const user = await loggedIn(1, 'iosevent');
    expect(await call(user.socket, 'device/register', { sessionToken: user.token, deviceToken: 'not hex' })).toMatchObject({ statusCode: 400, body: { code: 'CHAT_PAYLOAD_INVALID' } });
    expect(await call(user.socket, 'device/register', { sessionToken: user.token, deviceToken: token })).toEqual({ statusCode: 200, body: { userId: 'iosevent', registered: true } });
    const sender = await loggedIn(0, 'apnssender2');
    const online = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['iosevent'], type: 'text', textContent: 'online' });
    expect(online.body.sent).toEqual({ online: ['iosevent'], offline: [] });
    await nextMessage(user);
    await close(user, 'iosevent');
    // The namespace's own alert title and sound.
    await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, settings: { apns_title: '新消息', apns_sound: 'chime.aiff' } } });
    const offline = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['iosevent'], type: 'text', textContent: 'offline' });
    expect(offline.body.sent).toEqual({ online: [], offline: ['iosevent'] });
    const requests = await until(async () => {
      const sent = mock.requests.filter((r) => r.token === token);
      return sent.length > 0 ? sent : undefined;
    }, 15_000);
    // Only the offline message woke the device.
    expect(requests.map((r) => r.payload)).toEqual([{ aps: { alert: { title: '新消息', body: 'offline' }, sound: 'chime.aiff' }, id: offline.body.id }]);
    await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, settings: { apns_title: null, apns_sound: null } } });

    const removed = await stack.api('/api/auth/chat/device', { auth: AUTH, body: { userId: 'iosevent', deviceToken: null } });
    expect(removed.body).toEqual({ userId: 'iosevent', registered: false });
    await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: ['iosevent'], type: 'text', textContent: 'after removal' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(mock.requests.filter((r) => r.token === token)).toHaveLength(1);
  }, 30_000);

  test('the REST route: namespace Basic Auth, a checked body, chat namespaces only', async () => {
    const route = '/api/auth/chat/device';
    expect((await stack.api(route, { body: { userId: 'u', deviceToken: deviceToken() } })).status).toBe(400);
    expect((await stack.api(route, { auth: basic(NS, 'wrong'), body: { userId: 'u', deviceToken: deviceToken() } })).body).toMatchObject({ code: 'PASSWD_ERROR' });
    expect((await stack.api(route, { auth: AUTH, body: { userId: 'u' } })).body).toEqual({ code: 'BODY_INVALID', msg: expect.stringContaining('deviceToken') });
    expect((await stack.api(route, { auth: AUTH, body: { userId: 'u', deviceToken: 'xyz' } })).body).toEqual({ code: 'BODY_INVALID', msg: expect.stringContaining('/deviceToken') });
    expect((await stack.api(route, { auth: AUTH, body: { userId: 'u v', deviceToken: deviceToken() } })).body).toEqual({ code: 'BODY_INVALID', msg: expect.stringContaining('/userId') });
    expect((await stack.api(route, { auth: AUTH, body: { userId: 'u', deviceToken: deviceToken(), extra: 1 } })).body).toEqual({
      code: 'BODY_INVALID',
      msg: expect.stringContaining('unknown field "extra"'),
    });
    expect(await stack.api(route, { auth: basic('/pushns', 'pw'), body: { userId: 'u', deviceToken: deviceToken() } })).toEqual({
      status: 400,
      body: { code: 'CHAT_PROTOCOL_REQUIRED', msg: 'the namespace does not use the chat protocol' },
    });
    expect(await redis.exists(keys.client(`${NS}#u#ios-chat`))).toBe(0);
  });
});

describe('protocol violations', () => {
  test('every event answers any malformed payload with a 4xx and the connector keeps serving', async () => {
    const client = await loggedIn(1, 'fuzzer');
    const deep: any = {};
    let node = deep;
    for (let i = 0; i < 100; i++) node = node.next = {};
    const payloads: unknown[] = [null, 0, 'x', true, [], [1], {}, { sessionToken: 42 }, { sessionToken: client.token, targetIds: ['a'], deep }];
    for (const event of ['logIn', 'message/direct', 'message/conversation', 'message/group', 'conversation/add', 'device/register']) {
      for (const payload of payloads) {
        const answer = await call(client.socket, event, payload);
        expect({ event, payload, statusCode: answer.statusCode, code: typeof answer.body?.code }).toEqual({ event, payload, statusCode: expect.any(Number), code: 'string' });
        expect(answer.statusCode).toBeGreaterThanOrEqual(400);
        expect(answer.statusCode).toBeLessThan(500);
      }
      // No ack callback at all: nothing to answer, nothing breaks.
      client.socket.emit(event, { sessionToken: client.token });
    }
    const other = await loggedIn(0, 'fuzz-target');
    const sent = await call(client.socket, 'message/direct', { sessionToken: client.token, targetIds: ['fuzz-target'], type: 'text', textContent: 'still here' });
    expect(sent.body.sent).toEqual({ online: ['fuzz-target'], offline: [] });
    expect((await nextMessage(other))[0].metaData.textContent).toBe('still here');
  });
});

describe('send rate', () => {
  test('a socket past its namespace’s send_rate (recipients per second, a bucket of 1000) is refused with 429 and sends nothing', async () => {
    // A chat namespace reached by name on the default path (any chat namespace is, mapped or not).
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/chatlim', auth_passwd: 'pw', protocol: 'chat', settings: { send_rate: 1 } } })).status).toBe(200);
    const open = async (userId: string) => {
      const socket = io(`http://127.0.0.1:${stack.connectors[0]!.port}/chatlim`, { transports: ['websocket'], reconnection: false, forceNew: true }) as unknown as ChatSocket;
      opened.push(socket);
      const messages: any[] = [];
      socket.on('message', (m: unknown) => messages.push(m));
      const { socketId } = await new Promise<{ socketId: string }>((resolve) => socket.once('connected', resolve));
      const answer = await call(socket, 'logIn', { userId, socketId });
      return { socket, socketId, messages, token: answer.body.sessionToken as string };
    };
    const sender = await open('limited');
    const target = await open('limit-target');
    const many = ['limit-target', ...Array.from({ length: 999 }, (_, i) => `crowd${i}`)];
    const first = await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: many, type: 'text', textContent: 'to 1000' });
    expect(first.statusCode).toBe(201);
    expect(first.body.sent.online).toEqual(['limit-target']);
    expect(first.body.sent.offline).toHaveLength(999);
    // 50 more recipients at 1 a second: refused (the first message may have taken a few seconds).
    const more = ['limit-target', ...many.slice(1, 50)];
    expect(await call(sender.socket, 'message/direct', { sessionToken: sender.token, targetIds: more, type: 'text', textContent: 'one more' })).toEqual({
      statusCode: 429,
      body: { code: 'CHAT_RATE_LIMITED', msg: 'too many messages, retry later' },
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(target.messages.map((m) => m.metaData.textContent)).toEqual(['to 1000']);
    // Storing conversations costs the same budget.
    expect(await call(sender.socket, 'conversation/add', { sessionToken: sender.token, members: many.slice(0, 50) })).toMatchObject({ statusCode: 429, body: { code: 'CHAT_RATE_LIMITED' } });
    // Another socket has its own budget.
    const other = await open('unlimited');
    expect((await call(other.socket, 'message/direct', { sessionToken: other.token, targetIds: ['limit-target'], type: 'text', textContent: 'hi' })).statusCode).toBe(201);
  });
});

describe('conversations and groups', () => {
  test('conversation/add stores a conversation and answers its id; message/conversation reaches its members minus ignoreIds', async () => {
    const owner = await loggedIn(0, 'owner');
    const m1 = await loggedIn(1, 'member1');
    const m2 = await loggedIn(0, 'member2');
    const added = await call(owner.socket, 'conversation/add', {
      sessionToken: owner.token,
      protected: ['name', 'members', 'admin'],
      admin: ['owner'],
      members: ['member1', 'member2', 'member3'],
      name: '吃货小分队',
      atr1: 'value',
    });
    expect(added).toEqual({
      statusCode: 201,
      body: {
        id: expect.stringMatching(/^[A-Za-z0-9]{10}$/),
        name: '吃货小分队',
        admin: ['owner'],
        members: ['member1', 'member2', 'member3'],
        protected: ['name', 'members', 'admin'],
        createdBy: 'owner',
        createdAt: expect.any(Number),
        atr1: 'value',
      },
    });
    const conversationId = added.body.id;
    const sent = await call(owner.socket, 'message/conversation', { sessionToken: owner.token, conversationId, ignoreIds: ['member2'], type: 'text', content: '你是猴子么？' });
    expect(sent).toEqual({ statusCode: 201, body: { id: expect.any(String), sent: { online: ['member1'], offline: ['member3'] } } });
    expect(await nextMessage(m1)).toEqual([
      { metaData: { conversationId, ignoreIds: ['member2'], type: 'text', content: '你是猴子么？', from: 'owner' }, id: sent.body.id },
    ]);
    // A member answers: the owner (an admin) and the others get it, the sender does not.
    const reply = await call(m1.socket, 'message/conversation', { sessionToken: m1.token, conversationId, type: 'text', content: '不是' });
    expect(reply.body.sent).toEqual({ online: ['owner', 'member2'], offline: ['member3'] });
    expect((await nextMessage(owner))[0].metaData).toMatchObject({ content: '不是', from: 'member1' });
    expect((await nextMessage(m2))[0].metaData).toMatchObject({ content: '不是', from: 'member1' });
    expect(m1.messages).toHaveLength(1);

    // message/group: a group is a conversation ([BUG] of the seed fixed: groupId is read from the payload).
    const group = await call(m2.socket, 'message/group', { sessionToken: m2.token, groupId: conversationId, type: 'text', textContent: 'group' });
    expect(group).toEqual({ statusCode: 201, body: { id: expect.any(String), sent: { online: ['owner', 'member1'], offline: ['member3'] } } });
    expect((await nextMessage(m1, 2))[1]).toEqual({ metaData: { groupId: conversationId, type: 'text', textContent: 'group', from: 'member2' }, id: group.body.id });
  });

  test('errors: unknown conversation, a sender who is not a member, bad fields', async () => {
    const owner = await loggedIn(0, 'owner2');
    const stranger = await loggedIn(1, 'stranger');
    const added = await call(owner.socket, 'conversation/add', { sessionToken: owner.token, members: ['x1'] });
    // The creator is its admin when none is named.
    expect(added.body).toMatchObject({ admin: ['owner2'], members: ['x1'], protected: ['name', 'members', 'admin'] });
    expect(await call(owner.socket, 'message/conversation', { sessionToken: owner.token, conversationId: 'nothere123', type: 'text', content: 'x' })).toEqual({
      statusCode: 404,
      body: { code: 'CHAT_CONVERSATION_NOT_FOUND', msg: 'conversation not found' },
    });
    expect(await call(stranger.socket, 'message/conversation', { sessionToken: stranger.token, conversationId: added.body.id, content: 'x' })).toEqual({
      statusCode: 403,
      body: { code: 'CHAT_NOT_A_MEMBER', msg: 'not a member of this conversation' },
    });
    expect(await call(stranger.socket, 'message/group', { sessionToken: stranger.token, groupId: added.body.id })).toMatchObject({ statusCode: 403 });
    expect(await call(owner.socket, 'conversation/add', { sessionToken: owner.token, members: 'x1' })).toMatchObject({ statusCode: 400, body: { code: 'CHAT_PAYLOAD_INVALID' } });
    expect(await call(owner.socket, 'conversation/add', { members: ['x1'] })).toMatchObject({ statusCode: 400, body: { code: 'CHAT_PAYLOAD_INVALID' } });
    expect(await call(owner.socket, 'message/conversation', { sessionToken: owner.token, conversationId: '../x', content: 'x' })).toMatchObject({
      statusCode: 400,
      body: { code: 'CHAT_PAYLOAD_INVALID' },
    });
    expect(await call(stranger.socket, 'conversation/add', { sessionToken: owner.token, members: ['x1'] })).toMatchObject({ statusCode: 401 });
  });
});
