/**
 * Crashes during delivery (issue 5): a SIGKILLed worker in the middle of an APNs fan-out or of an
 * offline step, and a SIGKILLed logic right after accepting a push. After a restart every device
 * and every inbox gets the message: once, or twice at most where the kill fell between APNs'
 * answer and its record.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { freePort, startApnsMock, startRedis, startService, until, type ApnsMock, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic } from './support/clients';
import { ADMIN, ADMIN_PASSWORD } from './support/stack';

const TOPIC = 'com.herald.crash';
const keys = new Keys('h:');
const AUTH = basic('/crash', 'pw');
let server: TestRedis;
let redis: Redis;
let mock: ApnsMock;
let logic: ServiceProcess;
const services: ServiceProcess[] = [];
let env: Record<string, string>;

async function api(path: string, body?: unknown) {
  const response = await fetch(`http://127.0.0.1:${logic.port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: path.startsWith('/api/admin') ? ADMIN : AUTH, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** `count` members of `room` who went offline long ago, as the connectors would have recorded them. */
async function seedMembers(room: string, platform: 'ios' | 'android', count: number): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  const pipeline = redis.pipeline();
  for (let i = 0; i < count; i++) {
    const clientId = `/crash#${room}-u${i}#${platform}-d${i}`;
    const token = randomBytes(32).toString('hex');
    tokens.set(clientId, token);
    pipeline.hset(keys.client(clientId), { namespace: '/crash', userid: `${room}-u${i}`, platform, ...(platform === 'ios' ? { device_token: token } : {}) });
    pipeline.sadd(keys.roomMembers('/crash', room), clientId);
    pipeline.sadd(keys.roomMembersBy('/crash', room, platform), clientId);
  }
  await pipeline.exec();
  return tokens;
}

function worker(extra: Record<string, string> = {}): Promise<ServiceProcess> {
  return startService('worker', { env: { ...env, ...extra } }).then((w) => (services.push(w), w));
}

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  mock = await startApnsMock({ topics: [TOPIC], latencyMs: 150 });
  env = {
    HERALD_REDIS_URL: server.url,
    HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HERALD_LOGIC_PORT: '0',
    HERALD_OFFLINE_DELAY_MS: '100',
    HERALD_JOB_LOCK_MS: '1500',
    HERALD_APNS_CONCURRENCY: '2',
    HERALD_APNS_HOST: '127.0.0.1',
    HERALD_APNS_PORT: String(mock.port),
    HERALD_APNS_CA: mock.caFile,
  };
  logic = await startService('logic', { env });
  services.push(logic);
  const key = mock.providerKey!;
  await api('/api/admin/namespace/save', { key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] });
  await api('/api/admin/namespace/save', { key: '/crash', auth_passwd: 'pw' });
});
afterAll(async () => {
  for (const s of services) await s.stop('SIGKILL');
  await redis.quit();
  await mock.close();
  await server.stop();
});

test('SIGKILL of the worker in the middle of a 1000-device APNs fan-out: every device once, at most twice', async () => {
  const tokens = await seedMembers('ios-room', 'ios', 1000);
  const first = await worker();
  const { body } = await api('/api/auth/push', { room: 'ios-room', pushData: {}, leaveMessage: true });
  const outcomes = keys.apnsOutcomes('/crash', body.id);
  // Kill once some devices are done and others are in flight.
  await until(async () => ((await redis.hlen(outcomes)) >= 300 ? true : undefined), 20_000);
  await first.stop('SIGKILL');
  const doneAtKill = await redis.hlen(outcomes);
  expect(doneAtKill).toBeLessThan(1000);

  await worker();
  let last: any;
  const report = await until(async () => {
    last = (await api(`/api/auth/report/push/${body.id}`)).body;
    return last.apnsSuccessCount === 1000 ? last : undefined;
  }, 30_000).catch(async (error: Error) => {
    // What a failure needs to be understood: the counters against the recorded outcomes.
    const { apnsCount, apnsSuccessCount, offline } = last ?? {};
    throw new Error(`${error.message}: report ${JSON.stringify({ apnsCount, apnsSuccessCount, offline })}, ${await redis.hlen(outcomes)} outcomes recorded`);
  });
  expect(report.apnsCount).toBe(1000);

  const sent = new Map<string, number>();
  for (const request of mock.requests) if (request.status === 200) sent.set(request.token, (sent.get(request.token) ?? 0) + 1);
  const counts = [...tokens.values()].map((token) => sent.get(token) ?? 0);
  const twice = counts.filter((n) => n === 2).length;
  console.log(`APNs fan-out crash: ${doneAtKill} recorded at the kill, ${twice} devices sent twice, 0 missing`);
  expect(counts.filter((n) => n === 0)).toEqual([]);
  expect(counts.filter((n) => n > 2)).toEqual([]);
  // Only batches in flight at the kill can repeat: 2 concurrent jobs of 100 devices.
  expect(twice).toBeLessThanOrEqual(200);
}, 60_000);

test('SIGKILL of the worker while the offline step enqueues APNs batches, acks arriving before the re-run: every un-acked device once, acked ones none', async () => {
  const tokens = await seedMembers('ack-room', 'ios', 6000);
  const apnsQueue = new Queue('apns', { connection: redis, prefix: 'h:q' });
  // The first worker cannot reach APNs (nothing listens there): whatever it enqueues waits for the
  // second one, so every notification the mock gets is sent after the acks below.
  const first = await worker({ HERALD_APNS_PORT: String(await freePort()) });
  const { body } = await api('/api/auth/push', { room: 'ack-room', pushData: {}, leaveMessage: true });
  // The first batches are in; Redis stops taking writes, so the step is caught mid-enqueue.
  const total = async () => Object.values(await apnsQueue.getJobCounts()).reduce((a, b) => a + b, 0);
  await until(async () => ((await total()) > 0 ? true : undefined), 20_000, 5);
  await redis.call('CLIENT', 'PAUSE', '10000', 'WRITE');
  const [enqueued] = await apnsQueue.getJobs(['waiting', 'active', 'delayed', 'failed', 'completed'], 0, 0);
  await first.stop('SIGKILL');
  await redis.call('CLIENT', 'UNPAUSE');
  expect(await redis.hget(keys.message('/crash', body.id), 'offline')).toBeNull();
  // Devices of an enqueued batch ack now (what the connectors' report batches write): the re-run
  // sees an audience with them gone.
  const ackers = (enqueued!.data.clientIds as string[]).slice(0, 40);
  await redis.sadd(keys.acks('/crash', body.id, 'ios'), ...ackers);

  await worker();
  const summary = await until(async () => (await redis.hget(keys.message('/crash', body.id), 'offline')) ?? undefined, 30_000);
  expect(summary).toMatch(/^inbox:0 apns:\d+$/);
  // Every APNs job of the message has run to its end (retries of the first worker's jobs included).
  const pending = async () => Object.values(await apnsQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).reduce((a, b) => a + b, 0);
  await until(async () => ((await pending()) === 0 ? true : undefined), 60_000, 50);
  await apnsQueue.close();
  const sent = new Map<string, number>();
  for (const request of mock.requests) if (request.status === 200) sent.set(request.token, (sent.get(request.token) ?? 0) + 1);
  const acked = new Set(ackers);
  const counts = [...tokens].map(([clientId, token]) => ({ clientId, acked: acked.has(clientId), n: sent.get(token) ?? 0 }));
  expect(counts.filter((c) => !c.acked && c.n !== 1)).toEqual([]);
  expect(counts.filter((c) => c.acked && c.n > 0)).toEqual([]);
}, 120_000);

test('SIGKILL of the worker in the middle of an offline step: every inbox gets the message', async () => {
  const members = [...(await seedMembers('big-room', 'android', 20_000)).keys()];
  const offlineQueue = new Queue('offline', { connection: redis, prefix: 'h:q' });
  const first = await worker();
  const { body } = await api('/api/auth/push', { room: 'big-room', pushData: {}, leaveMessage: true });
  await until(async () => ((await offlineQueue.getActiveCount()) > 0 ? true : undefined), 10_000, 5);
  await first.stop('SIGKILL');
  await offlineQueue.close();

  await worker();
  const summary = await until(async () => (await redis.hget(keys.message('/crash', body.id), 'offline')) ?? undefined, 30_000);
  expect(summary).toBe('inbox:20000 apns:0');
  const pipeline = redis.pipeline();
  for (const clientId of members) pipeline.zscore(keys.clientInbox(clientId), String(body.id));
  const scores = ((await pipeline.exec()) ?? []).map(([, score]) => score);
  expect(scores.filter((score) => score === null)).toHaveLength(0);
}, 60_000);

test('SIGKILL of logic right after it accepted a push: the offline step still happens', async () => {
  const [member] = [...(await seedMembers('small', 'android', 1)).keys()];
  const { status, body } = await api('/api/auth/push', { room: 'small', pushData: {}, leaveMessage: true });
  expect(status).toBe(200);
  await logic.stop('SIGKILL');
  await until(async () => ((await redis.zscore(keys.clientInbox(member!), String(body.id))) !== null ? true : undefined), 20_000);
});
