/**
 * APNs delivery with real processes against the APNs mock (HTTP/2 over TLS, issue 5): token and
 * certificate providers, one request per device, Apple's answers and what Herald does with them.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { sharedTestCa, startApnsMock, startService, until, type ApnsMock, type ServiceProcess } from '@herald/test-support';
import { basic, offlineIosMember } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

const TOPIC = 'com.herald.test';
const keys = new Keys('h:');
let stack: Stack;
let worker: ServiceProcess;
let mock: ApnsMock;
let redis: Redis;
const token = () => randomBytes(32).toString('hex');

beforeAll(async () => {
  mock = await startApnsMock({ topics: [TOPIC] });
  stack = await startStack({ connectors: 1, env: { HERALD_OFFLINE_DELAY_MS: '200' } });
  worker = await startService('worker', {
    env: { ...stack.env, HERALD_APNS_HOST: '127.0.0.1', HERALD_APNS_PORT: String(mock.port), HERALD_APNS_CA: mock.caFile },
  });
  redis = new Redis(stack.redis.url);
  const key = mock.providerKey!;
  const ca = await sharedTestCa();
  const client = await ca.issueClientCertificate({ topic: TOPIC, environment: 'sandbox' });
  // The default configuration lives in namespace "/" (seed): token authentication.
  await stack.api('/api/admin/namespace/save', {
    auth: ADMIN,
    body: { key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, apns_expiration: 600, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] },
  });
  await stack.api('/api/admin/namespace/save', {
    auth: ADMIN,
    body: { key: '/app', auth_passwd: 'pw', apns_list: [{ name: 'cert', apns_env: 'dev', apns_topic: TOPIC, apns_dev_cert: client.certPem, apns_dev_key: client.keyPem }] },
  });
});
afterAll(async () => {
  await redis.quit();
  expect(await worker.stop()).toBe(0);
  await stack.stop();
  await mock.close();
});

const AUTH = basic('/app', 'pw');

/** An offline iOS member of `room` with a device token. */
async function device(uuid: string, room: string, deviceToken: string | undefined = token()): Promise<{ cid: string; deviceToken: string | undefined }> {
  const cid = await offlineIosMember(stack.connectors[0]!.port, '/app', uuid, room, deviceToken, isOffline);
  return { cid, deviceToken };
}

const isOffline = async (clientId: string) => (await redis.hget(keys.client(clientId), 'sid')) === null;

async function push(room: string, extra: object = {}): Promise<number> {
  const { body } = await stack.api('/api/auth/push', { auth: AUTH, body: { room, pushData: { text: 'hi' }, leaveMessage: true, ...extra } });
  return body.id;
}

async function report(id: number, done: (r: any) => boolean): Promise<any> {
  return until(async () => {
    const r = (await stack.api(`/api/auth/report/push/${id}`, { auth: AUTH })).body;
    return done(r) ? r : undefined;
  }, 15_000);
}

const requestsFor = (deviceToken: string) => mock.requests.filter((r) => r.token === deviceToken);

test('token auth (the default of "/"): one request per device with the right headers and payload', async () => {
  const a = await device('d1', 'news');
  const b = await device('d2', 'news');
  const id = await push('news', { pushData: { text: 'hi', apsData: { aps: { badge: 3 }, extra: 1 } } });
  const r = await report(id, (x) => x.apnsCount === 2);
  expect(r).toMatchObject({ apnsCount: 2, apnsSuccessCount: 2, apnsEnv: 'dev', result: 'apnsEnv:dev sent:2 failed:0' });
  for (const d of [a, b]) {
    const sent = requestsFor(d.deviceToken!);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ auth: 'token', status: 200, headers: { 'apns-topic': TOPIC, 'apns-collapse-id': String(id), 'apns-push-type': 'alert', 'apns-priority': '10' } });
    expect(Number(sent[0]!.headers['apns-expiration'])).toBeGreaterThan(Date.now() / 1000 + 500);
    expect(sent[0]!.payload).toEqual({ aps: { badge: 3, alert: '通知' }, extra: 1 });
  }
});

test('a named certificate configuration: the client certificate is presented', async () => {
  const d = await device('c1', 'certs');
  const id = await push('certs', { apnsName: 'cert' });
  await report(id, (x) => x.apnsSuccessCount === 1);
  expect(requestsFor(d.deviceToken!)).toMatchObject([{ auth: 'certificate', status: 200 }]);
});

test('missing configuration is reported, not silent', async () => {
  await device('m1', 'missing');
  const id = await push('missing', { apnsName: 'nope' });
  expect((await report(id, (x) => x.result !== '')).result).toBe('apnsName:nope not exists');
});

test('Apple’s answers: 410 and 400 BadDeviceToken drop the token, 413 keeps it, none is retried', async () => {
  const gone = await device('e1', 'errors');
  const bad = await device('e2', 'errors');
  const big = await device('e3', 'errors');
  const fresh = await device('e4', 'errors');
  mock.script(gone.deviceToken!, { status: 410, reason: 'Unregistered', timestamp: Date.now() + 60_000 });
  mock.script(bad.deviceToken!, { status: 400, reason: 'BadDeviceToken' });
  mock.script(big.deviceToken!, { status: 413, reason: 'PayloadTooLarge' });
  // Unregistered before the client registered its token again: the token stays.
  mock.script(fresh.deviceToken!, { status: 410, reason: 'Unregistered', timestamp: Date.now() - 3_600_000 });
  const id = await push('errors');
  const r = await report(id, (x) => x.apnsCount === 4);
  expect(r.apnsSuccessCount).toBe(0);
  expect(r.apnsFailures).toEqual({ Unregistered: 2, BadDeviceToken: 1, PayloadTooLarge: 1 });
  for (const d of [gone, bad, big, fresh]) expect(requestsFor(d.deviceToken!)).toHaveLength(1);
  expect(await redis.hget(keys.client(gone.cid), 'device_token')).toBeNull();
  expect(await redis.hget(keys.client(bad.cid), 'device_token')).toBeNull();
  expect(await redis.hget(keys.client(big.cid), 'device_token')).toBe(big.deviceToken);
  expect(await redis.hget(keys.client(fresh.cid), 'device_token')).toBe(fresh.deviceToken);
  // Why did this device get nothing: kept per device.
  expect(await redis.hget(keys.apnsOutcomes('/app', id), bad.cid)).toBe('400 BadDeviceToken');
  // The admin console's timeline tells the same per device, the token shown by its last 4 characters.
  const timeline = (await stack.api(`/api/admin/report/push/${id}/timeline?namespace=/app`, { auth: ADMIN })).body;
  expect(timeline.entries.map((e: { step: string }) => e.step)).toEqual(['accepted', 'offline', 'apns', 'apns', 'apns', 'apns']);
  expect(timeline.entries[1]).toEqual({ at: expect.any(Number), step: 'offline', inbox: 0, apns: 4 });
  const apnsSteps = timeline.entries.slice(2).map(({ clientId, outcome, token: shown }: { clientId: string; outcome: string; token: string }) => ({ clientId, outcome, shown }));
  expect(apnsSteps.sort((x: { clientId: string }, y: { clientId: string }) => x.clientId.localeCompare(y.clientId))).toEqual(
    [
      { clientId: gone.cid, outcome: '410 Unregistered', shown: `…${gone.deviceToken!.slice(-4)}` },
      { clientId: bad.cid, outcome: '400 BadDeviceToken', shown: `…${bad.deviceToken!.slice(-4)}` },
      { clientId: big.cid, outcome: '413 PayloadTooLarge', shown: `…${big.deviceToken!.slice(-4)}` },
      { clientId: fresh.cid, outcome: '410 Unregistered', shown: `…${fresh.deviceToken!.slice(-4)}` },
    ].sort((x, y) => x.clientId.localeCompare(y.clientId)),
  );
  expect(JSON.stringify(timeline)).not.toContain(bad.deviceToken!);
});

test('429 and 500 are retried with backoff until APNs accepts; devices already done are not sent again', async () => {
  const busy = await device('r1', 'retry');
  const broken = await device('r2', 'retry');
  const fine = await device('r3', 'retry');
  mock.script(busy.deviceToken!, { status: 429, reason: 'TooManyRequests', retryAfter: 1 });
  mock.script(broken.deviceToken!, { status: 500, reason: 'InternalServerError' }, { status: 503, reason: 'ServiceUnavailable' });
  const id = await push('retry');
  const r = await report(id, (x) => x.apnsSuccessCount === 3);
  expect(r.apnsCount).toBe(3);
  expect(requestsFor(busy.deviceToken!).map((q) => q.status)).toEqual([429, 200]);
  expect(requestsFor(broken.deviceToken!).map((q) => q.status)).toEqual([500, 503, 200]);
  expect(requestsFor(fine.deviceToken!)).toHaveLength(1);
  const times = requestsFor(broken.deviceToken!).map((q) => q.at);
  // Exponential backoff from 1 s with jitter 0.5: at least 0.5 s, then 1 s between attempts.
  expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(400);
  expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(900);
}, 30_000);

test('a GOAWAY (no answer) is retried on a new connection', async () => {
  // Alone in its batch: a GOAWAY ends the whole HTTP/2 session, and answers of other streams on it
  // may be lost — those devices are then sent again (at least once), which the previous test avoids.
  const d = await device('g1', 'goaway');
  mock.script(d.deviceToken!, { kind: 'goaway' });
  const id = await push('goaway');
  await report(id, (x) => x.apnsSuccessCount === 1);
  expect(requestsFor(d.deviceToken!).map((q) => q.outcome)).toEqual(['goaway', 'answered']);
}, 30_000);

test('403 ExpiredProviderToken: no final outcome, the provider is dropped, the delivery retried and accepted', async () => {
  const d = await device('p1', 'expired');
  mock.script(d.deviceToken!, { status: 403, reason: 'ExpiredProviderToken' });
  const id = await push('expired');
  const r = await report(id, (x) => x.apnsSuccessCount === 1);
  expect(r).toMatchObject({ apnsCount: 1, apnsFailures: {} });
  expect(requestsFor(d.deviceToken!).map((q) => q.status)).toEqual([403, 200]);
  expect(await redis.hget(keys.apnsOutcomes('/app', id), d.cid)).toBe('ok');
}, 30_000);

test('a namespace save rebuilds the provider: the default switched from token to certificate is used at once', async () => {
  const ca = await sharedTestCa();
  const client = await ca.issueClientCertificate({ topic: TOPIC, environment: 'sandbox' });
  const before = await device('s1', 'switch');
  const first = await push('switch');
  await report(first, (x) => x.apnsSuccessCount === 1);
  expect(requestsFor(before.deviceToken!)).toMatchObject([{ auth: 'token' }]);

  const saved = await stack.api('/api/admin/namespace/save', {
    auth: ADMIN,
    body: { key: '/', apns_list: [{ name: 'default', token_key: '', apns_dev_cert: client.certPem, apns_dev_key: client.keyPem }] },
  });
  expect(saved.status).toBe(200);
  const after = await device('s2', 'switch2');
  const second = await push('switch2');
  await report(second, (x) => x.apnsSuccessCount === 1);
  expect(requestsFor(after.deviceToken!)).toMatchObject([{ auth: 'certificate', status: 200 }]);
}, 30_000);
