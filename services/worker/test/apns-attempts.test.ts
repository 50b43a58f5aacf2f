/**
 * The `apns` queue's bounded attempts, in one process: ApnsQueue (producer, 2 attempts, short
 * backoff) → Redis → buildWorker's APNs processor → the APNs mock. A device APNs keeps refusing with
 * a retryable status is sent once per attempt, and the last attempt records a final outcome in the
 * report instead of retrying forever (issue 5 item 4: "retry with backoff and jitter, bounded
 * attempts").
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';
import { validatePushRequest } from '@herald/wire';
import { ApnsQueue, QUEUES, apnsJobId } from '@herald/queues';
import { Keys, MessageStore, NamespaceStore, Scripts } from '@herald/store';
import { startApnsMock, startRedis, until, type ApnsMock, type TestRedis } from '@herald/test-support';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { buildWorker } from '../src';

const PREFIX = 'apq:';
const keys = new Keys(PREFIX);
const TOPIC = 'com.herald.attempts';
const ATTEMPTS = 2;

let server: TestRedis;
let redis: Redis;
let mock: ApnsMock;
let worker: ReturnType<typeof buildWorker>;
let producer: ApnsQueue;
let events: QueueEvents;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  mock = await startApnsMock({ topics: [TOPIC] });
  const config = loadConfig('worker', {
    HERALD_WORKER_PORT: '0',
    HERALD_REDIS_URL: server.url,
    HERALD_REDIS_PREFIX: PREFIX,
    HERALD_LOG_LEVEL: 'silent',
    HERALD_APNS_HOST: '127.0.0.1',
    HERALD_APNS_PORT: String(mock.port),
    HERALD_APNS_CA: mock.caFile,
  });
  worker = buildWorker(config, createLogger('worker', 'silent'));
  await worker.start();
  const connection = { host: '127.0.0.1', port: server.port };
  producer = new ApnsQueue(connection, keys.queuePrefix(), { attempts: ATTEMPTS, backoffMs: 100 });
  events = new QueueEvents(QUEUES.apns, { connection, prefix: keys.queuePrefix() });
  await events.waitUntilReady();
  const key = mock.providerKey!;
  await new NamespaceStore(redis, keys).save('/', {
    apnsList: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }],
  });
});
afterAll(async () => {
  await worker?.close();
  await producer?.close();
  await events?.close();
  await redis?.quit();
  await server?.stop();
  await mock?.close();
});

test('a device refused with 500 at every attempt: one request per attempt, then a final outcome in the report', async () => {
  const messages = new MessageStore(redis, keys, new Scripts(redis));
  const { id } = await messages.store('/n', validatePushRequest({ room: 'r', pushData: {}, leaveMessage: true }, false));
  const deviceToken = randomBytes(32).toString('hex');
  const clientId = '/n#u1#ios-d1';
  await redis.hset(keys.client(clientId), { namespace: '/n', platform: 'ios', device_token: deviceToken });
  mock.script(deviceToken, ...Array.from({ length: ATTEMPTS + 2 }, () => ({ status: 500 as const, reason: 'InternalServerError' })));

  await producer.enqueue('/n', id, [[clientId]], 0);
  const job = (await producer.bull.getJob(apnsJobId('/n', id, 0)))!;
  // The last attempt records the outcome and completes: no retry beyond the bound.
  await job.waitUntilFinished(events, 15_000);

  expect(mock.requests.filter((r) => r.token === deviceToken).map((r) => r.status)).toEqual([500, 500]);
  // node-apn drops the body of a retryable status, so Apple's reason is not in the outcome; the
  // status is.
  expect(await redis.hget(keys.apnsOutcomes('/n', id), clientId)).toMatch(/^500 /);
  const report = await until(async () => {
    const r = await messages.report('/n', id);
    return r && r.apnsCount === 1 ? r : undefined;
  });
  expect(report).toMatchObject({ apnsCount: 1, apnsSuccessCount: 0, apnsEnv: 'dev' });
  expect(Object.values(report.apnsFailures)).toEqual([1]);
  // A server error is not the token's fault: it stays.
  expect(await redis.hget(keys.client(clientId), 'device_token')).toBe(deviceToken);
}, 30_000);
