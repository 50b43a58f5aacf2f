/**
 * The admin routes the console needs beyond the seed's: push on a namespace's behalf, its reports,
 * a message's delivery timeline, online figures by platform, webhook dead letters and their replay,
 * and the console's own files. On a real logic app and its own redis-server.
 */
import { QUEUES, WebhookQueue, pushDeadLetter, type DisconnectWebhookJob } from '@herald/queues';
import { ClientStore, Keys, RoomStore, Scripts, packAck, packDelivery, reportBatchCall, timelineUpdate } from '@herald/store';
import { UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { startTestApp, type TestApp } from './support/test-app';

const ADMIN_PASSWORD = 'admin-password-for-console-routes';
const admin = 'Basic ' + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64');
const keys = new Keys('h:');

let testApp: TestApp;
let app: FastifyInstance;
let redis: Redis;

async function call(method: 'GET' | 'POST', url: string, payload?: unknown, auth = admin) {
  const response = await app.inject({ method, url, headers: { authorization: auth }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: response.statusCode, body: response.json() };
}

beforeAll(async () => {
  testApp = await startTestApp(ADMIN_PASSWORD);
  ({ app, redis } = testApp);
  for (const key of ['/demo', '/other']) expect((await call('POST', '/api/admin/namespace/save', { key, auth_passwd: 'pw' })).status).toBe(200);
});
afterAll(() => testApp.close());

describe('POST /api/admin/push and the admin reports', () => {
  test('pushes into the named namespace; its report and history show it, from admin', async () => {
    const pushed = await call('POST', '/api/admin/push?namespace=/demo', { room: 'r1', pushData: { hello: 'admin' } });
    expect(pushed).toEqual({ status: 200, body: { id: 1, expectAckCount: 0 } });
    const report = await call('GET', '/api/admin/report/push/1?namespace=/demo&ackDetail=true');
    expect(report.body).toMatchObject({ id: 1, namespace: '/demo', room: 'r1', pushData: { hello: 'admin' }, from: 'admin', ackWebDetail: [] });
    const history = await call('GET', '/api/admin/report/push?namespace=/demo&size=5');
    expect(history.body.map((r: { id: number }) => r.id)).toEqual([1]);
    // The other namespace saw nothing.
    expect((await call('GET', '/api/admin/report/push?namespace=/other')).body).toEqual([]);
    expect((await call('GET', '/api/admin/report/push/1?namespace=/other')).body.code).toBe('ID_NOT_EXISTS');
  });

  test('bad input is refused with the catalogue error and pushes nothing', async () => {
    const before = await call('GET', '/api/admin/report/push?namespace=/demo');
    expect(await call('POST', '/api/admin/push', { room: 'r1', pushData: {} })).toEqual({ status: 400, body: { code: 'QUERY_INVALID', msg: 'request query invalid: / must have required property \'namespace\'' } });
    expect((await call('POST', '/api/admin/push?namespace=/nope', { room: 'r1', pushData: {} })).body.code).toBe('NAMESPACE_NOT_FOUND');
    expect((await call('POST', '/api/admin/push?namespace=demo', { room: 'r1', pushData: {} })).body.code).toBe('NAMESPACE_INVALID');
    expect((await call('POST', '/api/admin/push?namespace=/demo', { room: 'a b', pushData: {} })).body.code).toBe('ROOM_INVALID');
    expect((await call('POST', '/api/admin/push?namespace=/demo&namespace=/other', { room: 'r1', pushData: {} })).body.code).toBe('QUERY_INVALID');
    expect((await call('GET', '/api/admin/report/push?namespace=/demo&size=501')).body).toEqual({ code: 'QUERY_INVALID', msg: 'request query invalid: size must be an integer from 1 to 500' });
    expect((await call('GET', '/api/admin/report/push/abc/timeline?namespace=/demo')).body.code).toBe('ID_NOT_EXISTS');
    // A namespace's own credentials do not open the admin routes.
    const tenant = 'Basic ' + Buffer.from('/demo:pw').toString('base64');
    expect((await call('POST', '/api/admin/push?namespace=/demo', { room: 'r1', pushData: {} }, tenant)).status).toBe(401);
    expect(await call('GET', '/api/admin/report/push?namespace=/demo')).toEqual(before);
  });

  test('an offline namespace refuses admin pushes too', async () => {
    await call('POST', '/api/admin/namespace/save', { key: '/other', offline: 'on' });
    expect((await call('POST', '/api/admin/push?namespace=/other', { room: 'r1', pushData: {} })).body.code).toBe('NAMESPACE_OFFLINE');
    await call('POST', '/api/admin/namespace/save', { key: '/other', offline: 'off' });
  });
});

describe('GET /api/admin/report/push/:id/timeline', () => {
  test('starts with the accepted step and lists the steps written through report-batch, in time order', async () => {
    const { body: pushed } = await call('POST', '/api/admin/push?namespace=/demo', { room: 'r2', pushData: { n: 1 } });
    const report = (await call('GET', `/api/admin/report/push/${pushed.id}?namespace=/demo`)).body;
    const scripts = new Scripts(redis);
    // What a connector's report batch writes: a delivery count, then two acks of one client (the
    // second is a repeat) and one of another, each with its time.
    const at = report.sendDate;
    const batch = reportBatchCall(keys, '/demo', 'batch-1', [[pushed.id, {
      deliveries: [packDelivery(at + 5, 2)],
      acks: [packAck('web', at + 9, '/demo#u1#web-a'), packAck('web', at + 12, '/demo#u1#web-a'), packAck('android', at + 7, '/demo#u2#android-b')],
    }]], 10, 'c1');
    await scripts.reportBatch(batch.keys, batch.args);

    const timeline = await call('GET', `/api/admin/report/push/${pushed.id}/timeline?namespace=/demo`);
    expect(timeline).toEqual({
      status: 200,
      body: {
        id: pushed.id,
        namespace: '/demo',
        dropped: 0,
        entries: [
          { at, step: 'accepted', room: 'r2', from: 'admin' },
          { at: at + 5, step: 'delivered', connector: 'c1', sockets: 2 },
          { at: at + 7, step: 'acked', clientId: '/demo#u2#android-b', platform: 'android' },
          { at: at + 9, step: 'acked', clientId: '/demo#u1#web-a', platform: 'web' },
        ],
      },
    });
    // The list expires with its message.
    const ttl = await redis.pttl(keys.timeline('/demo', pushed.id));
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  test('the cap keeps the first entries and counts the others; the report counters stay exact', async () => {
    const { body: pushed } = await call('POST', '/api/admin/push?namespace=/demo', { room: 'r3', pushData: {} });
    const scripts = new Scripts(redis);
    const acks = Array.from({ length: 5 }, (_, i) => packAck('web', Date.now(), `/demo#u${i}#web-x${i}`));
    const batch = reportBatchCall(keys, '/demo', 'batch-2', [[pushed.id, { deliveries: [], acks }]], 3, 'c1');
    await scripts.reportBatch(batch.keys, batch.args);
    const timeline = (await call('GET', `/api/admin/report/push/${pushed.id}/timeline?namespace=/demo`)).body;
    expect(timeline.entries.map((e: { step: string }) => e.step)).toEqual(['accepted', 'acked', 'acked', 'acked']);
    expect(timeline.dropped).toBe(2);
    expect((await call('GET', `/api/admin/report/push/${pushed.id}?namespace=/demo`)).body.ackCount).toBe(5);
  });

  test('an entry for an expired or unknown message creates nothing', async () => {
    const t = timelineUpdate(keys, '/demo', 999, { at: 1, step: 'offline', inbox: 1, apns: 0 }, 10);
    await new Scripts(redis).reportApply(t.keys, t.args);
    expect(await redis.exists(keys.timeline('/demo', 999), keys.message('/demo', 999))).toBe(0);
    expect((await call('GET', '/api/admin/report/push/999/timeline?namespace=/demo')).body).toEqual({ code: 'ID_NOT_EXISTS', msg: 'this id not exists' });
  });
});

describe('GET /api/admin/namespace/online', () => {
  test('counts the namespace, its clients by platform and its online rooms', async () => {
    const scripts = new Scripts(redis);
    const clients = new ClientStore(redis, keys, scripts);
    const rooms = new RoomStore(redis, keys, scripts);
    for (const [userid, platform, uuid] of [['u1', 'web', 'a'], ['u1', 'ios', 'b'], ['u2', 'android', 'c']] as const) {
      const clientId = `/demo#${userid}#${platform}-${uuid}`;
      await clients.connected(clientId, { namespace: '/demo', userid, uuid, platform, sid: uuid, connector: 'test' });
      await rooms.join('/demo', 'lobby', { clientId, userid, platform }, uuid);
    }
    const online = await call('GET', '/api/admin/namespace/online?namespace=/demo');
    expect(online.body).toMatchObject({
      clientCount: 3,
      userCount: 2,
      roomCount: 1,
      platforms: { web: 1, android: 1, ios: 1 },
      rooms: [{ name: 'lobby', clientCount: 3, webClientCount: 1, androidClientCount: 1, iosClientCount: 1 }],
      roomsTruncated: false,
    });
    expect((await call('GET', '/api/admin/namespace/online?namespace=/nope')).body.code).toBe('NAMESPACE_NOT_FOUND');
    expect((await call('GET', '/api/admin/namespace/online')).body.code).toBe('QUERY_INVALID');
  });
});

describe('webhook dead letters', () => {
  test('lists them with their job state, and a replay queues the failed job again once', async () => {
    const prefix = keys.queuePrefix();
    const connection = { host: '127.0.0.1', port: testApp.server.port };
    const queue = new WebhookQueue(connection, prefix, { attempts: 1 });
    // A real failed job: a worker that gives up on it for good, as the webhooks processor does on a 4xx.
    const worker = new Worker(QUEUES.webhooks, async () => {
      throw new UnrecoverableError('HTTP 400');
    }, { connection, prefix });
    const job: DisconnectWebhookJob = { kind: 'disconnect', namespace: '/demo', clientId: '/demo#u1#web-a', query: { uuid: 'a' }, at: Date.now() };
    const failed = new Promise((resolve) => worker.once('failed', resolve));
    const jobId = await queue.enqueueDisconnect(job);
    await failed;
    await worker.close();
    await pushDeadLetter(redis, 'h:', { namespace: '/demo', kind: 'disconnect', clientId: job.clientId, reason: 'HTTP 400', attempts: 1, at: job.at, jobId });

    const listed = await call('GET', '/api/admin/webhooks/dead');
    expect(listed).toEqual({ status: 200, body: { list: [{ namespace: '/demo', kind: 'disconnect', clientId: job.clientId, reason: 'HTTP 400', attempts: 1, at: job.at, jobId, state: 'failed' }] } });

    expect(await call('POST', '/api/admin/webhooks/dead/replay', { jobId })).toEqual({ status: 200, body: { jobId, state: 'waiting' } });
    expect((await call('GET', '/api/admin/webhooks/dead')).body.list[0].state).toBe('waiting');
    // Not failed any more: a second replay changes nothing.
    expect(await call('POST', '/api/admin/webhooks/dead/replay', { jobId })).toEqual({ status: 400, body: { code: 'DEAD_LETTER_NOT_FAILED', msg: 'dead letter job is not failed' } });
    expect(await call('POST', '/api/admin/webhooks/dead/replay', { jobId: 'nope' })).toEqual({ status: 400, body: { code: 'DEAD_LETTER_NOT_FOUND', msg: 'dead letter job not found' } });
    expect((await call('POST', '/api/admin/webhooks/dead/replay', { id: jobId })).body.code).toBe('BODY_INVALID');
    expect((await call('GET', '/api/admin/webhooks/dead?count=0')).body.code).toBe('QUERY_INVALID');
    await queue.bull.obliterate({ force: true });
    await queue.close();
  });
});

describe('the console files at /push-admin/', () => {
  test('the page, its script and style are served with a strict content security policy; nothing else is', async () => {
    const page = await app.inject({ method: 'GET', url: '/push-admin/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).toContain('<script type="module" src="app.js">');
    const script = await app.inject({ method: 'GET', url: '/push-admin/app.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toContain('/api/admin/report/push');
    expect((await app.inject({ method: 'GET', url: '/push-admin/style.css' })).statusCode).toBe(200);
    const bare = await app.inject({ method: 'GET', url: '/push-admin' });
    expect([bare.statusCode, bare.headers['location']]).toEqual([302, 'push-admin/']);
    for (const url of ['/push-admin/nope.js', '/push-admin/../package.json', '/push-admin/%2e%2e%2fpackage.json']) {
      const response = await app.inject({ method: 'GET', url });
      expect({ url, status: response.statusCode, body: response.json() }).toEqual({ url, status: 404, body: { code: 'ROUTE_NOT_FOUND', msg: 'route not found' } });
    }
  });
});
