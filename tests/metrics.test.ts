/**
 * Prometheus metrics with real processes (issue 15): what an operator reads on each role's
 * `/metrics` after doing something — a push acked by a client, refused handshakes and pushes, APNs
 * outcomes by Apple's reason (APNs mock), queue depth — the protection switch, and every role's
 * text checked by `promtool check metrics` (Debian's prometheus package, HERALD_PROMTOOL).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { OfflineQueue } from '@herald/queues';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Keys, NamespaceStore } from '@herald/store';
import { startApnsMock, startService, until, type ApnsMock, type ServiceProcess } from '@herald/test-support';
import { basic, connectClient, connectError, emitWithAck, offlineIosMember, type Recorded } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

const TOPIC = 'com.herald.metrics';
const keys = new Keys('h:');
const AUTH = basic('/m', 'pw');
let stack: Stack;
let worker: ServiceProcess;
let mock: ApnsMock;
let redis: Redis;
const clients: Recorded[] = [];
const extra: ServiceProcess[] = [];

beforeAll(async () => {
  mock = await startApnsMock({ topics: [TOPIC] });
  stack = await startStack({ connectors: 1, env: { HERALD_OFFLINE_DELAY_MS: '200' } });
  worker = await startService('worker', {
    env: { ...stack.env, HERALD_APNS_HOST: '127.0.0.1', HERALD_APNS_PORT: String(mock.port), HERALD_APNS_CA: mock.caFile },
  });
  redis = new Redis(stack.redis.url);
  const key = mock.providerKey!;
  await stack.api('/api/admin/namespace/save', {
    auth: ADMIN,
    body: { key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, apns_expiration: 600, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] },
  });
  await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: '/m', auth_passwd: 'pw' } });
});

afterAll(async () => {
  for (const client of clients) client.socket.close();
  await redis?.quit();
  const codes = [...(await Promise.all(extra.map((s) => s.stop()))), await worker.stop(), ...(await stack.stop())];
  await mock.close();
  expect(codes.every((code) => code === 0)).toBe(true);
});

async function scrape(port: number, authorization?: string): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

/** The value of one sample (exactly these labels), or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match && match[1] === name && (match[2] ?? '').split(',').filter(Boolean).sort().join(',') === wanted) return Number(match[3]);
  }
  return undefined;
}

/** Scrapes until `check` finds what it waits for in the text (counters reach Prometheus on scrape). */
function metricsUntil(port: number, check: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  return until(async () => {
    const { text } = await scrape(port);
    return check(text) ? text : undefined;
  }, timeoutMs);
}

/** `promtool check metrics` reads the exposition text on stdin; exit 0 and no output means clean. */
function promtool(text: string): Promise<{ code: number | null; output: string }> {
  const binary = process.env['HERALD_PROMTOOL'];
  if (!binary) throw new Error('HERALD_PROMTOOL is not set: run the tests with `npm test` (scripts/promtool.mjs installs promtool)');
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

test('a push acked by a client shows in pushes accepted (logic), deliveries, acks and the ack latency (connector)', async () => {
  const connector = stack.connectors[0]!;
  const client = await connectClient(connector.port, '/m', { uuid: 'u1', userid: 'a', platform: 'web' });
  clients.push(client);
  expect(await emitWithAck(client.socket, 'joinRoom', ['r1'])).toEqual({ status: 200, msg: 'ok' });
  const received = new Promise<{ id: number }>((resolve) => client.socket.once('push', resolve));
  const push = await stack.api('/api/auth/push', { auth: AUTH, body: { room: 'r1', pushData: { n: 1 } } });
  expect(push.status).toBe(200);
  expect((await received).id).toBe(push.body.id);
  client.socket.emit('ackPush', { id: push.body.id });

  const text = await metricsUntil(connector.port, (t) => sample(t, 'herald_ack_latency_seconds_count') === 1 && sample(t, 'herald_report_updates_total') === 2);
  expect(sample(text, 'herald_connections', { namespace: '/m', protocol: 'push', platform: 'web', transport: 'websocket' })).toBe(1);
  expect(sample(text, 'herald_handshakes_total', { namespace: '/m', result: 'ok' })).toBe(1);
  expect(sample(text, 'herald_deliveries_total', { namespace: '/m' })).toBe(1);
  expect(sample(text, 'herald_acks_total', { namespace: '/m' })).toBe(1);
  expect(sample(text, 'herald_ack_latency_seconds_bucket', { le: '+Inf' })).toBe(1);
  expect(sample(text, 'herald_ack_latency_seconds_sum')).toBeLessThan(5);
  // The batcher wrote the delivery count and the ack to the report.
  expect(sample(text, 'herald_report_updates_total')).toBe(2);
  expect(sample(text, 'herald_report_apply_lag_seconds_count')).toBeGreaterThanOrEqual(1);
  expect(sample(text, 'herald_inbox_size_messages_count')).toBe(1);

  const logic = await scrape(stack.logic.port);
  expect(logic.status).toBe(200);
  expect(sample(logic.text, 'herald_pushes_accepted_total', { namespace: '/m' })).toBe(1);

  // Gone: the connection gauge comes back to 0.
  client.socket.close();
  await metricsUntil(connector.port, (t) => sample(t, 'herald_connections', { namespace: '/m', protocol: 'push', platform: 'web', transport: 'websocket' }) === 0);
});

test('connections count by transport: a polling-only client shows as polling', async () => {
  const port = stack.connectors[0]!.port;
  const socket = io(`http://127.0.0.1:${port}/m`, { query: { uuid: 'p1', platform: 'android' }, transports: ['polling'], reconnection: false, forceNew: true });
  await new Promise((resolve) => socket.once('ok', resolve));
  const polling = { namespace: '/m', protocol: 'push', platform: 'android', transport: 'polling' };
  await metricsUntil(port, (t) => sample(t, 'herald_connections', polling) === 1);
  socket.close();
  await metricsUntil(port, (t) => sample(t, 'herald_connections', polling) === 0);
});

test('refused handshakes count by catalogue code; an unknown namespace gets no label', async () => {
  const port = stack.connectors[0]!.port;
  expect((await connectError(port, '/nope', { uuid: 'x1', platform: 'web' })).data).toEqual({ code: 'HS_NAMESPACE_NOT_FOUND' });
  expect((await connectError(port, '/m', { uuid: 'x2', platform: 'fridge' })).data).toEqual({ code: 'HS_PLATFORM_INVALID' });
  const text = await metricsUntil(port, (t) => sample(t, 'herald_handshakes_total', { namespace: '/m', result: 'HS_PLATFORM_INVALID' }) === 1);
  expect(sample(text, 'herald_handshakes_total', { namespace: '', result: 'HS_NAMESPACE_NOT_FOUND' })).toBe(1);
  expect(text).not.toContain('namespace="/nope"');
});

test('refused pushes count by catalogue code (namespace empty when the caller did not authenticate)', async () => {
  expect((await stack.api('/api/auth/push', { auth: AUTH, body: { room: 'r1' } })).status).toBe(400);
  expect((await stack.api('/api/auth/push', { auth: basic('/m', 'wrong-pw'), body: { room: 'r1', pushData: {} } })).status).toBe(401);
  const { text } = await scrape(stack.logic.port);
  const refused = text.split('\n').filter((l) => l.startsWith('herald_pushes_refused_total{'));
  expect(refused).toHaveLength(2);
  expect(refused.some((l) => /namespace="\/m",code="[A-Z_]+"} 1$/.test(l))).toBe(true);
  expect(sample(text, 'herald_pushes_refused_total', { namespace: '', code: 'PASSWD_ERROR' })).toBe(1);
});

test("APNs sends count by outcome and Apple's reason; the offline step and queue depth show on the worker", async () => {
  const isOffline = async (clientId: string) => (await redis.hget(keys.client(clientId), 'sid')) === null;
  const good = randomBytes(32).toString('hex');
  const bad = randomBytes(32).toString('hex');
  await offlineIosMember(stack.connectors[0]!.port, '/m', 'i1', 'ios-room', good, isOffline);
  await offlineIosMember(stack.connectors[0]!.port, '/m', 'i2', 'ios-room', bad, isOffline);
  mock.script(bad, { status: 400, reason: 'BadDeviceToken' });
  const push = await stack.api('/api/auth/push', { auth: AUTH, body: { room: 'ios-room', pushData: { n: 2 }, leaveMessage: true } });
  expect(push.status).toBe(200);

  const text = await metricsUntil(worker.port, (t) => sample(t, 'herald_apns_sends_total', { namespace: '/m', outcome: 'failed', reason: 'BadDeviceToken' }) === 1, 15_000);
  expect(sample(text, 'herald_apns_sends_total', { namespace: '/m', outcome: 'ok', reason: '' })).toBe(1);
  expect(sample(text, 'herald_offline_steps_total', { namespace: '/m', outcome: 'done' })).toBe(1);

  // A delayed offline job nobody will run for a minute: the depth gauge reads it from Redis.
  const offline = new OfflineQueue(redis, keys.queuePrefix());
  await offline.schedule({ namespace: '/m', id: 999_999 }, 60_000);
  const depth = await scrape(worker.port);
  expect(sample(depth.text, 'herald_queue_jobs', { queue: 'offline', state: 'delayed' })).toBe(1);
  for (const queue of ['offline', 'apns', 'webhooks']) {
    for (const state of ['waiting', 'active', 'failed']) expect(sample(depth.text, 'herald_queue_jobs', { queue, state })).toEqual(expect.any(Number));
  }
  await offline.bull.remove(`${(await offline.bull.getDelayed())[0]!.id}`);
  await offline.close();
});

test('webhooks count by outcome on the worker; one given up counts as a dead letter', async () => {
  const receiver = createServer((_req, res) => res.writeHead(200).end());
  receiver.listen(0, '127.0.0.1');
  await new Promise((resolve) => receiver.once('listening', resolve));
  try {
    const store = new NamespaceStore(redis, keys);
    await store.save('/wh-ok', { disconnectCallback: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/gone` });
    // Not http(s): given up at once, without retries.
    await store.save('/wh-bad', { disconnectCallback: 'ftp://example.com/gone' });
    for (const namespace of ['/wh-ok', '/wh-bad']) {
      const client = await connectClient(stack.connectors[0]!.port, namespace, { uuid: 'w1', platform: 'web' });
      const gone = new Promise((resolve) => client.socket.once('disconnect', resolve));
      client.socket.close();
      await gone;
    }
    const text = await metricsUntil(
      worker.port,
      (t) =>
        sample(t, 'herald_webhook_dead_letters_total', { namespace: '/wh-bad', kind: 'disconnect' }) === 1 &&
        sample(t, 'herald_webhook_deliveries_total', { namespace: '/wh-ok', kind: 'disconnect', outcome: 'delivered' }) === 1,
      15_000,
    );
    expect(sample(text, 'herald_webhook_deliveries_total', { namespace: '/wh-bad', kind: 'disconnect', outcome: 'failed' })).toBe(1);
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});

test('every role passes `promtool check metrics`, with the default process metrics (event loop, heap, RSS)', async () => {
  const texts = {
    connector: await scrape(stack.connectors[0]!.port),
    logic: await scrape(stack.logic.port),
    worker: await scrape(worker.port),
  };
  for (const [role, { status, type, text }] of Object.entries(texts)) {
    expect({ role, status, type }).toEqual({ role, status: 200, type: 'text/plain; version=0.0.4; charset=utf-8' });
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_resident_memory_bytes']) {
      expect({ role, name, value: sample(text, name) }).toEqual({ role, name, value: expect.any(Number) });
    }
    expect({ role, ...(await promtool(text)) }).toEqual({ role, code: 0, output: '' });
  }
  expect((await fetch(`http://127.0.0.1:${worker.port}/health`).then((r) => r.text()))).toBe('hello');
});

test('HERALD_METRICS_AUTH=admin: 401 without or with wrong credentials on every role, the text with the admin ones', async () => {
  const env = { ...stack.env, HERALD_METRICS_AUTH: 'admin', HERALD_LOGIC_METRICS_PORT: '0' };
  const [logic, connector, protectedWorker] = await Promise.all([
    startService('logic', { env }),
    startService('connector', { env }),
    startService('worker', { env }),
  ]);
  extra.push(logic, connector, protectedWorker);
  // Logic's own metrics port (pm2 cluster mode: one per process) answers like its REST port.
  const metricsPort = (await logic.waitForLog((l) => l.msg === 'metrics listening'))['metricsPort'] as number;
  expect(metricsPort).not.toBe(logic.port);
  for (const port of [logic.port, metricsPort, connector.port, protectedWorker.port]) {
    const anonymous = await scrape(port);
    expect({ port, status: anonymous.status, body: anonymous.text }).toEqual({ port, status: 401, body: '{"code":"AUTH_ERROR","msg":"auth error"}' });
    expect((await scrape(port, basic('admin', 'not-the-password'))).status).toBe(401);
    const allowed = await scrape(port, ADMIN);
    expect({ port, status: allowed.status }).toEqual({ port, status: 200 });
    expect(allowed.text).toContain('process_resident_memory_bytes');
  }
  // /health stays open: pm2, nginx and load balancers probe it.
  expect(await fetch(`http://127.0.0.1:${protectedWorker.port}/health`).then((r) => r.status)).toBe(200);
});

test('the namespace label cap holds on a connector with more namespaces than the cap', async () => {
  const connector = await startService('connector', { env: { ...stack.env, HERALD_METRICS_NAMESPACE_LABELS: '2' } });
  extra.push(connector);
  for (const key of ['/cap-1', '/cap-2', '/cap-3', '/cap-4']) {
    expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key, auth_passwd: 'pw' } })).status).toBe(200);
    clients.push(await connectClient(connector.port, key, { uuid: 'c1', platform: 'android' }));
  }
  const labels = (namespace: string) => ({ namespace, protocol: 'push', platform: 'android', transport: 'websocket' });
  const text = await metricsUntil(connector.port, (t) => sample(t, 'herald_connections', labels('other')) === 2);
  expect(text.split('\n').filter((l) => l.startsWith('herald_connections{'))).toHaveLength(3);
  expect([sample(text, 'herald_connections', labels('/cap-1')), sample(text, 'herald_connections', labels('/cap-2'))]).toEqual([1, 1]);
  expect(sample(text, 'herald_handshakes_total', { namespace: 'other', result: 'ok' })).toBe(2);
  expect(text).not.toMatch(/namespace="\/cap-[34]"/);
});

test('HERALD_METRICS=off: /metrics is a 404', async () => {
  const connector = await startService('connector', { env: { ...stack.env, HERALD_METRICS: 'off' } });
  extra.push(connector);
  expect(await scrape(connector.port)).toMatchObject({ status: 404, text: '{"code":"ROUTE_NOT_FOUND","msg":"route not found"}' });
});
