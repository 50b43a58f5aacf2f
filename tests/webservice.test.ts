/**
 * The webservice protocol (seed 001, crossroads/socket.io-webservice) end to end on real processes:
 * Redis, logic, two connectors and a worker, a third-party site answering `auth_url` and
 * `update_user_url`, and the seed's clients (stock socket.io v4 and v2). Issue 16, "Webservice
 * protocol"; docs/protocols/webservice.md.
 */
import { Redis } from 'ioredis';
import { Keys, WebserviceStore } from '@herald/store';
import { startService, until, type ServiceProcess } from '@herald/test-support';
import { CLIENT_VERSIONS, basic } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';
import { send, startSite, wsConnect, wsRefusal, type Site, type WsClient } from './support/webservice';

let stack: Stack;
let worker: ServiceProcess;
let site: Site;
let redis: Redis;
let store: WebserviceStore;
const open: WsClient[] = [];

const KEY = 'the-site-api-key-0123456789';

async function connect(...args: Parameters<typeof wsConnect>): Promise<WsClient> {
  const client = await wsConnect(...args);
  open.push(client);
  return client;
}

function port(i: number): number {
  return stack.connectors[i]!.port;
}

async function saveSite(key: string, settings: Record<string, unknown>): Promise<void> {
  const answer = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key, protocol: 'webservice', settings } });
  expect(answer).toEqual({ status: 200, body: {} });
}

beforeAll(async () => {
  site = await startSite();
  site.rooms.set('u1', ['user_1', 'staff']);
  site.rooms.set('u1b', ['user_1', 'Staff', 'reviewers']);
  site.rooms.set('u2', ['user_2', 'staff']);
  site.rooms.set('u3', ['user_3']);
  site.rooms.set('guest', ['browse']);
  site.rooms.set('nopriv', ['staff']);
  site.rooms.set('e500', { status: 500, body: 'boom' });
  site.rooms.set('notjson', { status: 200, body: 'hello' });
  site.rooms.set('notarray', { status: 200, body: '{"rooms":["a"]}' });
  site.rooms.set('hang', 'hang');
  site.rooms.set('401text', { status: 401, body: 'go away' });
  site.rooms.set('huge', { status: 200, body: JSON.stringify(Array.from({ length: 120_000 }, (_, i) => `room_${i}`)) });
  // A faster heartbeat: a SIGKILLed connector is reaped within a few seconds.
  stack = await startStack({ connectors: 2, env: { HERALD_CALLBACK_TIMEOUT_MS: '1000', HERALD_CONNECTOR_HEARTBEAT_MS: '1000' } });
  worker = await startService('worker', { env: stack.env });
  redis = new Redis(stack.redis.url);
  store = new WebserviceStore(redis, new Keys('h:'));
  const auth_url = `${site.url}/rooms`;
  await saveSite('/plain', { auth_url, api_key: KEY });
  await saveSite('/goodcity', { auth_url, auth_scheme: 'Bearer', api_key: KEY, user_room_prefix: 'user_', public_channel: 'browse', update_user_url: `${site.url}/users/:id`, device_ttl: 3600 });
  await saveSite('/shortttl', { auth_url, api_key: KEY, user_room_prefix: 'user_', device_ttl: 1 });
  await saveSite('/forever', { auth_url, api_key: KEY, user_room_prefix: 'user_', device_ttl: 0 });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  redis?.disconnect();
  if (worker) expect(await worker.stop()).toBe(0);
  await stack?.stop();
  await site?.close();
});

describe('namespace settings', () => {
  test('the admin save checks the webservice settings; the api key is stored hashed and never shown', async () => {
    const bad = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/badsite', protocol: 'webservice', settings: { device_ttl: -1 } } });
    expect(bad).toEqual({ status: 400, body: { code: 'PROTOCOL_SETTINGS_INVALID', msg: 'protocol settings invalid: /device_ttl must be >= 0' } });
    const badUrl = await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/badsite', protocol: 'webservice', settings: { auth_url: 'ftp://x' } } });
    expect(badUrl.status).toBe(400);
    const list = await stack.api('/api/admin/namespace/list?key=/goodcity', { auth: ADMIN });
    const shown = list.body.list[0].settings;
    expect(shown).toMatchObject({ api_key_set: true, user_room_prefix: 'user_', device_ttl: 3600 });
    expect(JSON.stringify(list.body)).not.toContain(KEY);
    const stored = await redis.hget('h:ns:/goodcity', 'protocol_settings');
    expect(stored).not.toContain(KEY);
  });
});

describe('handshake', () => {
  test.each(CLIENT_VERSIONS)('%s: GET auth_url with Authorization and X-META; the socket gets _settings', async (version) => {
    const before = site.received.length;
    const client = await connect(version, port(0), '/goodcity', { token: 'u3', deviceId: `hs-${version}`, meta: 'app=1' });
    const request = site.received.slice(before).find((r) => r.url === '/rooms')!;
    expect(request.method).toBe('GET');
    expect(request.headers.authorization).toBe('Bearer u3');
    expect(request.headers['x-meta']).toBe('app=1');
    expect((await client.nth('_settings')).args).toEqual([{ device_ttl: 3600 }]);
  });

  test.each(CLIENT_VERSIONS)('%s: refusals carry the seed texts', async (version) => {
    expect(await wsRefusal(version, port(0), '/goodcity', { token: 'nobody' })).toBe('Authentication failed');
    expect(await wsRefusal(version, port(1), '/goodcity', { token: 'e500' })).toBe('Auth 500 error');
    expect(await wsRefusal(version, port(0), '/goodcity', { token: 'nopriv' })).toBe('User is missing a private room');
    expect(await wsRefusal(version, port(1), '/goodcity', { token: 'notjson' })).toBe('Auth error: auth_url did not answer JSON');
    expect(await wsRefusal(version, port(1), '/goodcity', { token: 'notarray' })).toBe('Auth error: auth_url did not answer an array of rooms');
    // Without a user room prefix, any rooms do.
    const plain = await connect(version, port(0), '/plain', { token: 'nopriv' });
    expect((await plain.nth('_settings')).args).toEqual([{ device_ttl: 3600 }]);
  });

  test('a 401 whose body is not JSON is still `Authentication failed` (the seed answered `Auth error: SyntaxError`); an answer over 1 MiB is refused', async () => {
    expect(await wsRefusal('v4', port(0), '/goodcity', { token: '401text' })).toBe('Authentication failed');
    expect(await wsRefusal('v4', port(1), '/goodcity', { token: 'huge' })).toBe('Auth error: auth_url answer too large');
    expect(await wsRefusal('v4', port(0), '/goodcity', { token: 'u1\u{1f600}' })).toBe('Auth error: token must be one text of printable ISO-8859-1 characters');
    expect(await wsRefusal('v4', port(0), '/goodcity', { token: 'u1', deviceId: 'a b' })).toBe('deviceId invalid');
  });

  test('the callback timeout of the push protocol applies; the refusal names no URL nor token', async () => {
    const text = await wsRefusal('v4', port(0), '/goodcity', { token: 'hang' });
    expect(text).toBe('Auth error: auth_url timed out after 1000 ms');
    expect(text).not.toContain(site.url);
  });
});

describe('REST', () => {
  test('GET /healthcheck answers ok; /send answers the seed texts', async () => {
    const health = await fetch(`http://127.0.0.1:${stack.logic.port}/healthcheck`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    const body = { rooms: ['staff'], event: 'update_store', args: [1] };
    expect(await send(stack.logic.port, 'site=plain', body)).toMatchObject({ status: 400, text: "Missing query param 'site' or 'apiKey'." });
    expect(await send(stack.logic.port, `apiKey=${KEY}`, body)).toMatchObject({ status: 400, text: "Missing query param 'site' or 'apiKey'." });
    expect(await send(stack.logic.port, 'site=plain&apiKey=wrong', body)).toMatchObject({ status: 401, text: 'ApiKey invalid.' });
    expect(await send(stack.logic.port, `site=nosuchsite&apiKey=${KEY}`, body)).toMatchObject({ status: 401, text: 'ApiKey invalid.' });
    const ok = await send(stack.logic.port, `site=plain&apiKey=${KEY}`, body);
    expect(ok).toMatchObject({ status: 200, text: 'OK' });
    expect(ok.type).toMatch(/^text\/plain/);
  });

  test('bad bodies get a precise plain-text 400 and send nothing', async () => {
    const q = `site=plain&apiKey=${KEY}`;
    expect(await send(stack.logic.port, q, { rooms: ['staff'] })).toMatchObject({ status: 400, text: `Invalid body: event must be a name of 1 to 200 characters.` });
    expect(await send(stack.logic.port, q, { event: 'x' })).toMatchObject({ status: 400, text: 'Invalid body: rooms must be a room name or a list of room names.' });
    expect(await send(stack.logic.port, q, { rooms: 'a', event: 'disconnect' })).toMatchObject({ status: 400, text: 'Invalid body: event disconnect is reserved by socket.io.' });
    expect(await send(stack.logic.port, q, '{"rooms":', 'json')).toMatchObject({ status: 400 });
    const raw = await fetch(`http://127.0.0.1:${stack.logic.port}/send?${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"rooms":' });
    expect([raw.status, await raw.text()]).toEqual([400, 'Invalid body: not valid JSON.']);
    const text = await fetch(`http://127.0.0.1:${stack.logic.port}/send?${q}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(text.status).toBe(415);
  });
});

describe('without a user room prefix: a broadcast to the rooms, on every connector', () => {
  test.each(CLIENT_VERSIONS)('%s: members of the room on both connectors get <event>(...args); others do not; nothing is kept', async (version) => {
    const a = await connect(version, port(0), '/plain', { token: 'u1' });
    const b = await connect(version, port(1), '/plain', { token: 'u2' });
    const c = await connect(version, port(1), '/plain', { token: 'u3' });
    await a.nth('_settings');
    await b.nth('_settings');
    await c.nth('_settings');
    expect(await send(stack.logic.port, `site=plain&apiKey=${KEY}`, { rooms: ['staff'], event: 'update_store', args: ['user', { id: 1, age: 5 }] })).toMatchObject({ status: 200, text: 'OK' });
    // A single argument that is not an array is one argument (seed `[event].concat(args)`).
    expect((await send(stack.logic.port, `site=plain&apiKey=${KEY}`, { rooms: 'user_3', event: 'message', args: 'hello' })).status).toBe(200);
    expect((await a.nth('update_store')).args).toEqual(['user', { id: 1, age: 5 }]);
    expect((await b.nth('update_store')).args).toEqual(['user', { id: 1, age: 5 }]);
    expect((await c.nth('message')).args).toEqual(['hello']);
    expect(c.all('update_store')).toEqual([]);
    expect(a.all('message')).toEqual([]);
    // No storage: a reconnect replays nothing.
    await a.close();
    const again = await connect(version, port(1), '/plain', { token: 'u1' });
    await again.nth('_settings');
    await new Promise((r) => setTimeout(r, 200));
    expect(again.all('_batch')).toEqual([]);
  });

  test('a broadcast has a delivery report like any push: pushData {event, args}, the sockets it reached', async () => {
    await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/plain', auth_passwd: 'plain-pw' } });
    const a = await connect('v4', port(0), '/plain', { token: 'u1' });
    const b = await connect('v4', port(1), '/plain', { token: 'u2' });
    await Promise.all([a.nth('_settings'), b.nth('_settings')]);
    expect((await send(stack.logic.port, `site=plain&apiKey=${KEY}`, { rooms: 'staff', event: 'reported', args: [7] })).status).toBe(200);
    const auth = basic('/plain', 'plain-pw');
    const report = await until(async () => {
      const list = await stack.api('/api/auth/report/push?size=20', { auth });
      const found = (list.body as { room: string; pushData: { event: string }; onlineClientCount: number }[]).find((r) => r.pushData.event === 'reported');
      return found?.onlineClientCount === 2 ? found : undefined;
    });
    expect(report).toMatchObject({ namespace: '/plain', room: 'staff', pushData: { event: 'reported', args: [7] }, onlineClientCount: 2 });
  });

  test('a urlencoded body with bracket keys, as jQuery posts it', async () => {
    const a = await connect('v4', port(0), '/plain', { token: 'u1' });
    await a.nth('_settings');
    const form = 'rooms[]=user_1&event=message&args[]=hi&args[1][id]=1&args[1][tags][]=x';
    expect(await send(stack.logic.port, `site=plain&apiKey=${KEY}`, form, 'form')).toMatchObject({ status: 200, text: 'OK' });
    expect((await a.nth('message')).args).toEqual(['hi', { id: '1', tags: ['x'] }]);
  });
});

/** The queue of a device, as `[event, ...args]` lists, oldest first. */
async function queued(namespace: string, userRoom: string, deviceId: string): Promise<unknown[][]> {
  return (await store.pending(namespace, `${userRoom}|${deviceId}`)).map((entry) => entry.payload as unknown[]);
}

const GOOD = `site=goodcity&apiKey=${KEY}`;

describe('with a user room prefix: a reliable ordered queue per device', () => {
  test.each(CLIENT_VERSIONS)('%s: a shared room reaches the members on both connectors; the ack removes exactly that entry', async (version) => {
    const a = await connect(version, port(0), '/goodcity', { token: 'u1', deviceId: `a-${version}` });
    const b = await connect(version, port(1), '/goodcity', { token: 'u2', deviceId: `b-${version}` });
    await a.nth('_settings');
    await b.nth('_settings');
    await until(async () => ((await store.devices('/goodcity', 'user_2'))[`b-${version}`]?.connected ? true : undefined));
    expect(await send(stack.logic.port, GOOD, { rooms: ['STAFF'], event: 'update_store', args: ['user', { id: 1 }] })).toMatchObject({ status: 200, text: 'OK' });
    const gotA = await a.nth('update_store');
    const gotB = await b.nth('update_store');
    expect(gotA.args).toEqual(['user', { id: 1 }]);
    expect(gotB.args).toEqual(['user', { id: 1 }]);
    expect(typeof gotA.ack).toBe('function');
    expect(await queued('/goodcity', 'user_1', `a-${version}`)).toEqual([['update_store', 'user', { id: 1 }]]);
    gotA.ack!();
    await until(async () => ((await queued('/goodcity', 'user_1', `a-${version}`)).length === 0 ? true : undefined));
    // b did not ack: its entry stays, and comes back in the `_batch` of its next connect.
    expect(await queued('/goodcity', 'user_2', `b-${version}`)).toEqual([['update_store', 'user', { id: 1 }]]);
    await b.close();
    const again = await connect(version, port(0), '/goodcity', { token: 'u2', deviceId: `b-${version}` });
    expect((await again.nth('_settings')).args).toEqual([{ device_ttl: 3600 }]);
    const batch = await again.nth('_batch');
    expect(again.got.map((g) => g.event).slice(0, 2)).toEqual(['_settings', '_batch']);
    expect(batch.args).toEqual([[['update_store', 'user', { id: 1 }]]]);
    batch.ack!();
    await until(async () => ((await queued('/goodcity', 'user_2', `b-${version}`)).length === 0 ? true : undefined));
  });

  test('messages stored while a device is away come in one _batch in stored order, across events; its ack removes exactly what it carried', async () => {
    const a = await connect('v4', port(0), '/goodcity', { token: 'u1', deviceId: 'order' });
    await a.nth('_settings');
    await a.close();
    for (const [event, n] of [['update_store', 1], ['message', 2], ['update_store', 3], ['other', 4]] as const) {
      expect((await send(stack.logic.port, GOOD, { rooms: 'user_1', event, args: [n] })).status).toBe(200);
    }
    const back = await connect('v4', port(1), '/goodcity', { token: 'u1', deviceId: 'order' });
    const batch = await back.nth('_batch');
    expect(batch.args).toEqual([[['update_store', 1], ['message', 2], ['update_store', 3], ['other', 4]]]);
    // Stored after the batch was read, before its ack: not carried, so not removed by it (the seed's race).
    expect((await send(stack.logic.port, GOOD, { rooms: 'user_1', event: 'message', args: [5] })).status).toBe(200);
    expect((await back.nth('message')).args).toEqual([5]);
    batch.ack!();
    await until(async () => ((await queued('/goodcity', 'user_1', 'order')).length === 1 ? true : undefined));
    expect(await queued('/goodcity', 'user_1', 'order')).toEqual([['message', 5]]);
  });

  test('the public channel is a device room of its own; no user update for it', async () => {
    const guest = await connect('v4', port(0), '/goodcity', { token: 'guest', deviceId: 'g1' });
    await guest.nth('_settings');
    expect((await send(stack.logic.port, GOOD, { rooms: 'browse', event: 'update_store', args: ['offer', { id: 9 }] })).status).toBe(200);
    const got = await guest.nth('update_store');
    expect(got.args).toEqual(['offer', { id: 9 }]);
    got.ack!();
    await until(async () => ((await queued('/goodcity', 'browse', 'g1')).length === 0 ? true : undefined));
    expect(site.received.filter((r) => r.url.startsWith('/users/browse'))).toEqual([]);
  });

  test('resync: an ack that is not the head of its event queue gets _resync and clears that queue; resync=false never does', async () => {
    const a = await connect('v4', port(0), '/goodcity', { token: 'u1', deviceId: 'rs' });
    await a.nth('_settings');
    await until(async () => ((await store.devices('/goodcity', 'user_1'))['rs']?.connected ? true : undefined));
    for (const n of [1, 2]) expect((await send(stack.logic.port, `${GOOD}&resync=false`, { rooms: 'user_1', event: 'update_store', args: [n] })).status).toBe(200);
    const second = await a.nth('update_store', 1);
    second.ack!();
    // resync=false: the out-of-order ack just removes its entry.
    await until(async () => ((await queued('/goodcity', 'user_1', 'rs')).length === 1 ? true : undefined));
    (await a.nth('update_store', 0)).ack!();
    await until(async () => ((await queued('/goodcity', 'user_1', 'rs')).length === 0 ? true : undefined));
    expect(a.all('_resync')).toEqual([]);

    for (const n of [3, 4]) expect((await send(stack.logic.port, `${GOOD}&resync=true`, { rooms: 'user_1', event: 'update_store', args: [n] })).status).toBe(200);
    expect((await send(stack.logic.port, `${GOOD}&resync=1`, { rooms: 'user_1', event: 'message', args: ['kept'] })).status).toBe(200);
    await a.nth('message');
    (await a.nth('update_store', 3)).ack!();
    await a.nth('_resync');
    // That event's queue is cleared; the other event's entry stays.
    await until(async () => ((await queued('/goodcity', 'user_1', 'rs')).length === 1 ? true : undefined));
    expect(await queued('/goodcity', 'user_1', 'rs')).toEqual([['message', 'kept']]);
    // In order, with resync: removed, no _resync.
    (await a.nth('message')).ack!();
    await until(async () => ((await queued('/goodcity', 'user_1', 'rs')).length === 0 ? true : undefined));
    expect(a.all('_resync')).toHaveLength(1);
  });

  test('update_user_url gets last_connected and last_disconnected PUTs through the worker', async () => {
    const puts = (field: string, since: number) =>
      site.received.filter((r) => r.method === 'PUT' && r.url === '/users/1' && Date.parse(JSON.parse(r.body).user[field] ?? '') >= since);
    const t0 = Date.now();
    const a = await connect('v4', port(1), '/goodcity', { token: 'u1', deviceId: 'uu' });
    await a.nth('_settings');
    const connected = await until(async () => puts('last_connected', t0)[0]);
    expect(connected.headers.authorization).toBe('Bearer u1');
    expect(connected.headers['content-type']).toBe('application/json');
    expect(JSON.parse(connected.body)).toEqual({ id: '1', user: { last_connected: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) } });
    const t1 = Date.now();
    await a.close();
    const gone = await until(async () => puts('last_disconnected', t1)[0]);
    expect(JSON.parse(gone.body)).toEqual({ id: '1', user: { last_disconnected: expect.any(String) } });
    expect(gone.headers.authorization).toBe('Bearer u1');
  });

  test('a user update the site refuses for a while (503) is retried with backoff until it is delivered', async () => {
    const t0 = Date.now();
    site.failPuts = 1;
    const a = await connect('v4', port(0), '/goodcity', { token: 'u2', deviceId: 'retry' });
    await a.nth('_settings');
    const attempts = () => site.received.filter((r) => r.method === 'PUT' && r.url === '/users/2' && Date.parse(JSON.parse(r.body).user.last_connected ?? '') >= t0);
    await until(async () => (attempts().length === 2 ? true : undefined), 10_000);
    expect(site.failPuts).toBe(0);
    expect(JSON.parse(attempts()[1]!.body)).toEqual(JSON.parse(attempts()[0]!.body));
  });
});

describe('metrics', () => {
  /** One sample of a Prometheus text (exactly these labels). */
  const sample = (text: string, name: string, namespace: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{namespace="${namespace}"}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  const scrape = async (p: number) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text();

  test('queued messages count like any namespace: accepted on logic, delivered and acked on the connector', async () => {
    await saveSite('/metered', { auth_url: `${site.url}/rooms`, api_key: KEY, user_room_prefix: 'user_' });
    const a = await connect('v4', port(0), '/metered', { token: 'u1', deviceId: 'm' });
    await a.nth('_settings');
    await until(async () => ((await store.devices('/metered', 'user_1'))['m']?.connected ? true : undefined));
    for (const n of [1, 2]) expect((await send(stack.logic.port, `site=metered&apiKey=${KEY}`, { rooms: 'user_1', event: 'message', args: [n] })).status).toBe(200);
    (await a.nth('message', 1)).ack!();
    await until(async () => ((await queued('/metered', 'user_1', 'm')).length === 1 ? true : undefined));
    expect(sample(await scrape(stack.logic.port), 'herald_pushes_accepted_total', '/metered')).toBe(2);
    const text = await until(async () => {
      const t = await scrape(port(0));
      return sample(t, 'herald_acks_total', '/metered') === 1 ? t : undefined;
    });
    expect(sample(text, 'herald_deliveries_total', '/metered')).toBe(2);
  });
});

describe('device_ttl', () => {
  test('a device disconnected longer than device_ttl is pruned on the next send; a reconnected one is connected again (the seed pruned it)', async () => {
    const away = await connect('v4', port(0), '/shortttl', { token: 'u3', deviceId: 'away' });
    await away.nth('_settings');
    expect((await away.nth('_settings')).args).toEqual([{ device_ttl: 1 }]);
    await away.close();
    const back = await connect('v4', port(0), '/shortttl', { token: 'u2', deviceId: 'back' });
    await back.nth('_settings');
    await back.close();
    const again = await connect('v4', port(1), '/shortttl', { token: 'u2', deviceId: 'back' });
    await again.nth('_settings');
    await until(async () => ((await store.devices('/shortttl', 'user_2'))['back']?.connected ? true : undefined));
    await new Promise((r) => setTimeout(r, 1300));
    expect((await send(stack.logic.port, `site=shortttl&apiKey=${KEY}`, { rooms: ['user_3', 'user_2'], event: 'message', args: ['x'] })).status).toBe(200);
    expect((await again.nth('message')).args).toEqual(['x']);
    expect(await store.devices('/shortttl', 'user_3')).toEqual({});
    expect(await queued('/shortttl', 'user_3', 'away')).toEqual([]);
    const returned = await connect('v4', port(1), '/shortttl', { token: 'u3', deviceId: 'away' });
    await returned.nth('_settings');
    await new Promise((r) => setTimeout(r, 200));
    expect(returned.all('_batch')).toEqual([]);
  });

  test('device_ttl 0: a device never expires, nor does its queue', async () => {
    const a = await connect('v4', port(0), '/forever', { token: 'u3', deviceId: 'f' });
    expect((await a.nth('_settings')).args).toEqual([{ device_ttl: 0 }]);
    await a.close();
    await until(async () => ((await store.devices('/forever', 'user_3'))['f']?.connected === false ? true : undefined));
    await new Promise((r) => setTimeout(r, 1100));
    expect((await send(stack.logic.port, `site=forever&apiKey=${KEY}`, { rooms: 'user_3', event: 'message', args: ['kept'] })).status).toBe(200);
    const base = store.base('/forever');
    expect(await redis.pttl(`${base}q:user_3|f`)).toBe(-1);
    const back = await connect('v4', port(1), '/forever', { token: 'u3', deviceId: 'f' });
    expect((await back.nth('_batch')).args).toEqual([[['message', 'kept']]]);
  });
});

describe('crashes', () => {
  /** SIGKILLs `victim`, which holds `client`; resolves once a reaper marked the device disconnected (recently). */
  async function killAndReap(victim: ServiceProcess, client: WsClient, userRoom: string, deviceId: string): Promise<void> {
    const dropped = new Promise((r) => client.socket.once('disconnect', r));
    expect(await victim.stop('SIGKILL')).toBeNull();
    await dropped;
    const reaped = await until(async () => {
      const device = (await store.devices('/goodcity', userRoom))[deviceId];
      return device?.connected === false ? device : undefined;
    }, 10_000);
    expect(reaped.disconnectedAt).toBeGreaterThan(Date.now() - 10_000);
  }

  test('replay after a connector SIGKILL: the reaper ends the device\'s connection; what it did not ack comes in its next _batch, in order', async () => {
    const victim = await stack.startConnector();
    const a = await connect('v4', victim.port, '/goodcity', { token: 'u3', deviceId: 'crash' });
    await a.nth('_settings');
    await until(async () => ((await store.devices('/goodcity', 'user_3'))['crash']?.connected ? true : undefined));
    for (const n of [1, 2, 3]) expect((await send(stack.logic.port, GOOD, { rooms: 'user_3', event: 'update_store', args: [n] })).status).toBe(200);
    await a.nth('update_store', 2);
    // The first one is acked before the crash; the others are received but not acked.
    (await a.nth('update_store', 0)).ack!();
    await until(async () => ((await queued('/goodcity', 'user_3', 'crash')).length === 2 ? true : undefined));
    // The reaper of a surviving connector ends the device's connection: disconnected since then,
    // so device_ttl can prune it if it never comes back (the seed kept such devices for ever).
    await killAndReap(victim, a, 'user_3', 'crash');
    const back = await connect('v4', port(0), '/goodcity', { token: 'u3', deviceId: 'crash' });
    expect((await back.nth('_batch')).args).toEqual([[['update_store', 2], ['update_store', 3]]]);
    await until(async () => ((await store.devices('/goodcity', 'user_3'))['crash']?.connected ? true : undefined));
  });

  test('a device held by an anonymous socket (no deviceId) is disconnected by the reaper too; a closed one leaves no record', async () => {
    const victim = await stack.startConnector();
    /** Every anonymous connection recorded in the namespace, with the key (the connector's) it is in. */
    const recorded = async (): Promise<{ key: string; record: unknown[] }[]> => {
      const keys = await redis.keys(`${store.base('/goodcity')}anon:*`);
      const members = await Promise.all(keys.map(async (key) => (await redis.smembers(key)).map((member) => ({ key, record: JSON.parse(member) as unknown[] }))));
      return members.flat();
    };
    const records = async (): Promise<unknown[][]> => (await recorded()).map((r) => r.record);
    // A tab that closes: its record goes with its connection.
    const tab = await connect('v4', victim.port, '/goodcity', { token: 'u2' });
    await tab.nth('_settings');
    const tabSid = tab.socket.id;
    await until(async () => ((await records()).some((r) => r[2] === tabSid) ? true : undefined));
    expect(await records()).toContainEqual(['user_2', '', tabSid]);
    await tab.close();
    await until(async () => ((await records()).some((r) => r[2] === tabSid) ? undefined : true));
    expect((await store.devices('/goodcity', 'user_2'))['']?.connected).toBe(false);

    // A tab whose connector dies: no client record, yet the reaper ends its device.
    const a = await connect('v4', victim.port, '/goodcity', { token: 'u3' });
    await a.nth('_settings');
    await until(async () => ((await store.devices('/goodcity', 'user_3'))['']?.connected ? true : undefined));
    const held = (await recorded()).find((r) => r.record[2] === a.socket.id);
    expect(held?.record).toEqual(['user_3', '', a.socket.id]);
    await killAndReap(victim, a, 'user_3', '');
    // From now on device_ttl prunes it like any other; the dead connector's list is gone.
    expect(await redis.exists(held!.key)).toBe(0);
  });

  test('ledger: every accepted message reaches every device across a connector SIGKILL and restart (lost = 0)', async () => {
    const doomed = await stack.startConnector();
    const ports = [port(0), doomed.port];
    const devices = [
      { token: 'u1', deviceId: 'L1', user: 'user_1' },
      { token: 'u2', deviceId: 'L2', user: 'user_2' },
      { token: 'u3', deviceId: 'L3', user: 'user_3' },
      { token: 'guest', deviceId: 'L4', user: 'browse' },
    ];
    const received = devices.map(() => new Map<number, number>());
    const firsts: number[][] = devices.map(() => []);
    const clients: (WsClient | undefined)[] = [];
    let stopping = false;
    const note = (i: number, n: unknown) => {
      const k = Number(n);
      const map = received[i]!;
      if (!map.has(k)) firsts[i]!.push(k);
      map.set(k, (map.get(k) ?? 0) + 1);
    };
    /** A seed client that acks everything, live and in batches, and reconnects to the first connector when dropped. */
    const attach = async (i: number, where: number): Promise<void> => {
      const d = devices[i]!;
      const client = await wsConnect('v4', where, '/goodcity', { token: d.token, deviceId: d.deviceId });
      clients[i] = client;
      let seen = 0;
      const pump = setInterval(() => {
        for (; seen < client.got.length; seen++) {
          const g = client.got[seen]!;
          if (g.event === 'ledger') note(i, g.args[0]);
          if (g.event === '_batch') for (const entry of g.args[0] as unknown[][]) note(i, entry[1]);
          g.ack?.();
        }
      }, 5);
      client.socket.once('disconnect', () => {
        clearInterval(pump);
        if (!stopping) setTimeout(() => void attach(i, ports[0]!).catch(() => undefined), 50);
      });
    };
    for (let i = 0; i < devices.length; i++) await attach(i, ports[i % 2]!);
    for (const d of devices) await until(async () => ((await store.devices('/goodcity', d.user))[d.deviceId]?.connected ? true : undefined));

    const accepted: number[] = [];
    let restarted: ServiceProcess | undefined;
    for (let n = 1; n <= 240; n++) {
      const answer = await send(stack.logic.port, GOOD, { rooms: ['user_1', 'user_2', 'user_3', 'browse'], event: 'ledger', args: [n] });
      if (answer.status === 200) accepted.push(n);
      // SIGKILL the connector holding half of the devices; they reconnect to the other one.
      if (n === 80) expect(await doomed.stop('SIGKILL')).toBeNull();
      if (n === 160) {
        // A connector starts again; one device moves onto it.
        restarted = await stack.startConnector();
        ports[0] = restarted.port;
        await clients[0]!.socket.disconnect();
      }
    }
    // Settle: every device's queue is empty (everything acked).
    await until(async () => {
      for (const d of devices) if ((await queued('/goodcity', d.user, d.deviceId)).length > 0) return undefined;
      return true;
    }, 15000);
    stopping = true;
    await Promise.all(clients.map((c) => c?.close()));
    const lost = devices.flatMap((d, i) => accepted.filter((n) => !received[i]!.has(n)).map((n) => `${d.deviceId}:${n}`));
    expect({ accepted: accepted.length, lost }).toEqual({ accepted: 240, lost: [] });
    // The first receipt of each message is in send order on every device (ordered queue, batch first).
    for (const order of firsts) expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(restarted).toBeDefined();
  }, 60000);
});
