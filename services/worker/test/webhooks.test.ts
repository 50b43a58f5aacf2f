/**
 * The `webhooks` queue end to end in one process: WebhookQueue (producer) → Redis → buildWorker's
 * webhooks processor → a real local HTTP receiver. Delivery of a namespace's disconnect callback
 * (spec/seed-behaviour.md, 002), retries with backoff, permanent failures, the dead-letter list, and
 * a graceful close with a callback in flight.
 */
import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';
import { QUEUES, readDeadLetters, webhookDeadLetterKey, WebhookQueue, type DisconnectWebhookJob, type WebhookResult } from '@herald/queues';
import { Keys, NamespaceStore } from '@herald/store';
import { startRedis, type TestRedis } from '@herald/test-support';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { buildWorker } from '../src';
import { CallbackServer } from './support/callback-server';

/** Fresh per file (STYLE.md 11); the graceful-close block uses a second prefix of its own. */
const PREFIX = 'whk:';
const keys = new Keys(PREFIX);
const TIMEOUT_MS = 300;
const BACKOFF_MS = 50;
const ATTEMPTS = 3;

let server: TestRedis;
let redis: Redis;
let callbacks: CallbackServer;
let worker: ReturnType<typeof buildWorker>;
let producer: WebhookQueue;
let events: QueueEvents;
/** Every log line the worker wrote, at debug level. */
const logLines: string[] = [];

// The receiver listens on 127.0.0.1, which only HERALD_CALLBACK_ALLOW_PRIVATE permits.
const workerConfig = (prefix: string, allowPrivate = 'true') =>
  loadConfig('worker', { HERALD_WORKER_PORT: '0', HERALD_REDIS_URL: server.url, HERALD_LOG_LEVEL: 'debug', HERALD_REDIS_PREFIX: prefix, HERALD_CALLBACK_ALLOW_PRIVATE: allowPrivate });
const capturingLogger = () =>
  createLogger('worker', 'debug', {
    hooks: {
      streamWrite: (line: string) => {
        logLines.push(line);
        return '';
      },
    },
  });
const connection = () => ({ host: '127.0.0.1', port: server.port });

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  callbacks = await new CallbackServer().listen();
  worker = buildWorker(workerConfig(PREFIX), capturingLogger(), { webhooks: { timeoutMs: TIMEOUT_MS } });
  await worker.start();
  producer = new WebhookQueue(connection(), keys.queuePrefix(), { attempts: ATTEMPTS, backoffMs: BACKOFF_MS });
  events = new QueueEvents(QUEUES.webhooks, { connection: connection(), prefix: keys.queuePrefix() });
  await events.waitUntilReady();
});
afterAll(async () => {
  await worker?.close();
  await producer?.close();
  await events?.close();
  await callbacks?.close();
  await redis?.quit();
  await server?.stop();
});

const SECRETS = { cookie: 'sid=cookie-secret-value', auth: 'callback-auth-secret', urlToken: 'url-query-secret' };

/** Saves a namespace whose disconnect callback is `path` on the local receiver (with a secret query). */
async function namespaceWithCallback(nsp: string, path: string, url = `${callbacks.url(path)}?token=${SECRETS.urlToken}`): Promise<void> {
  await new NamespaceStore(redis, keys).save(nsp, { disconnectCallback: url, callbackAuth: SECRETS.auth });
}

function disconnectJob(nsp: string, extra: Partial<DisconnectWebhookJob> = {}): DisconnectWebhookJob {
  return {
    kind: 'disconnect',
    namespace: nsp,
    clientId: `${nsp}#u1#web-u1`,
    query: { uuid: 'u1', userid: 'u1', platform: 'web', tags: ['a', 'b'] },
    cookie: SECRETS.cookie,
    at: Date.now(),
    ...extra,
  };
}

/** Resolves with the job's return value once it completed; rejects with its reason once it failed for good. */
async function finished(queue: WebhookQueue, queueEvents: QueueEvents, id: string): Promise<WebhookResult> {
  const job = await queue.bull.getJob(id);
  if (!job) throw new Error(`job ${id} not found`);
  return job.waitUntilFinished(queueEvents, 15_000);
}

async function deadLettersOf(nsp: string) {
  return (await readDeadLetters(redis, PREFIX, 1000)).filter((d) => d.namespace === nsp);
}

/** The first log line about a namespace with this message. */
function logged(nsp: string, msg: string): Record<string, unknown> | undefined {
  return logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['namespace'] === nsp && l['msg'] === msg);
}

function expectNoSecrets(text: string): void {
  for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
}

describe('delivery', () => {
  test('POSTs {query} once, with cookie, authorization = callback_auth and namespace headers', async () => {
    await namespaceWithCallback('/a', '/a');
    const job = disconnectJob('/a');
    const id = await producer.enqueueDisconnect(job);
    await expect(finished(producer, events, id)).resolves.toEqual({ outcome: 'delivered', status: 200 });

    const requests = callbacks.requests('/a');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'POST',
      url: `/a?token=${SECRETS.urlToken}`,
      headers: expect.objectContaining({
        cookie: SECRETS.cookie,
        authorization: SECRETS.auth,
        namespace: '/a',
        'content-type': 'application/json',
      }),
      body: { query: job.query },
    });
    expect(await deadLettersOf('/a')).toEqual([]);
    expect(logged('/a', 'webhook done')).toMatchObject({ clientId: '/a#u1#web-u1', outcome: 'delivered', status: 200, attempt: 1 });
    expectNoSecrets(logLines.join('\n'));
  });

  test('sends no cookie header when the handshake had none', async () => {
    await namespaceWithCallback('/a2', '/a2');
    const id = await producer.enqueueDisconnect(disconnectJob('/a2', { cookie: undefined }));
    await finished(producer, events, id);
    const [request] = callbacks.requests('/a2');
    expect(request!.headers).not.toHaveProperty('cookie');
    expect(request!.headers['authorization']).toBe(SECRETS.auth);
  });

  test('the same job enqueued twice (a retried enqueue) is delivered once', async () => {
    await namespaceWithCallback('/a3', '/a3');
    const job = disconnectJob('/a3');
    const [first, second] = [await producer.enqueueDisconnect(job), await producer.enqueueDisconnect(job)];
    expect(second).toBe(first);
    await finished(producer, events, first);
    expect(callbacks.requests('/a3')).toHaveLength(1);
  });

  test('a namespace without disconnect_callback, or no namespace at all: no request, job completed', async () => {
    await new NamespaceStore(redis, keys).save('/f', { callbackAuth: SECRETS.auth });
    const before = callbacks.all().length;
    for (const nsp of ['/f', '/missing']) {
      const id = await producer.enqueueDisconnect(disconnectJob(nsp));
      await expect(finished(producer, events, id)).resolves.toEqual({ outcome: 'skipped' });
      expect(await (await producer.bull.getJob(id))!.getState()).toBe('completed');
    }
    expect(callbacks.all()).toHaveLength(before);
    expect(callbacks.all().filter((r) => r.headers['namespace'] === '/f' || r.headers['namespace'] === '/missing')).toEqual([]);
  });
});

describe('retries', () => {
  test('500 then 200: retried after the backoff, delivered once', async () => {
    await namespaceWithCallback('/b', '/b');
    callbacks.script('/b', [500, 200]);
    const id = await producer.enqueueDisconnect(disconnectJob('/b'));
    await expect(finished(producer, events, id)).resolves.toEqual({ outcome: 'delivered', status: 200 });

    const requests = callbacks.requests('/b');
    expect(requests).toHaveLength(2);
    expect(requests[1]!.body).toEqual(requests[0]!.body);
    // Exponential backoff with jitter 0.5: the first retry waits between BACKOFF_MS / 2 and BACKOFF_MS.
    expect(requests[1]!.receivedAt - requests[0]!.receivedAt).toBeGreaterThanOrEqual(BACKOFF_MS / 2);
    expect((await producer.bull.getJob(id))!.attemptsMade).toBe(2);
    expect(await deadLettersOf('/b')).toEqual([]);
  });

  test('a receiver slower than the timeout: the attempt is abandoned and retried', async () => {
    await namespaceWithCallback('/c', '/c');
    callbacks.script('/c', ['hold', 200]);
    const id = await producer.enqueueDisconnect(disconnectJob('/c'));
    await expect(finished(producer, events, id)).resolves.toEqual({ outcome: 'delivered', status: 200 });

    const requests = callbacks.requests('/c');
    expect(requests).toHaveLength(2);
    expect(requests[0]!.answeredAt).toBeUndefined();
    expect(requests[1]!.receivedAt - requests[0]!.receivedAt).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(logged('/c', 'webhook attempt failed, will retry')).toMatchObject({ reason: `timeout after ${TIMEOUT_MS} ms`, attempt: 1, clientId: '/c#u1#web-u1' });
    callbacks.release('/c');
  });
});

describe('failures for good and the dead-letter list', () => {
  test.each([
    ['HTTP 400', '/d400', [400]],
    ['HTTP 404', '/d404', [404]],
    ['HTTP 302', '/d302', [302]],
  ] as const)('%s: not retried, one dead letter without secrets', async (reason, path, replies) => {
    const nsp = path;
    await namespaceWithCallback(nsp, path);
    callbacks.script(path, [...replies]);
    const id = await producer.enqueueDisconnect(disconnectJob(nsp));
    await expect(finished(producer, events, id)).rejects.toThrow(reason);

    expect(callbacks.requests(path)).toHaveLength(1);
    const job = (await producer.bull.getJob(id))!;
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(await deadLettersOf(nsp)).toEqual([
      { namespace: nsp, kind: 'disconnect', clientId: `${nsp}#u1#web-u1`, reason, attempts: 1, at: expect.any(Number), jobId: id },
    ]);
    // The failed job, kept a day for inspection, no longer holds the cookie.
    expect((job.data as { cookie?: string }).cookie).toBeUndefined();
    expectNoSecrets(JSON.stringify(await redis.lrange(webhookDeadLetterKey(PREFIX), 0, -1)));
    expect(logged(nsp, 'webhook failed for good')).toMatchObject({ reason, attempt: 1 });
    expectNoSecrets(logLines.join('\n'));
  });

  test.each([
    ['/ftp', 'ftp://example.com/cb', 'callback URL is not http(s)'],
    ['/bad', 'not a url', 'invalid callback URL'],
    ['/cred', 'http://user:pw@127.0.0.1:9/cb', 'callback URL holds credentials'],
  ])('%s: callback URL %j, no request, dead letter "%s"', async (nsp, url, reason) => {
    await namespaceWithCallback(nsp, '/unused', url);
    const before = callbacks.all().length;
    const id = await producer.enqueueDisconnect(disconnectJob(nsp));
    await expect(finished(producer, events, id)).rejects.toThrow(reason);
    expect(callbacks.all()).toHaveLength(before);
    expect(await deadLettersOf(nsp)).toEqual([expect.objectContaining({ reason, attempts: 1 })]);
  });

  test('every attempt fails (503): retried until the last attempt, then one dead letter', async () => {
    await namespaceWithCallback('/e', '/e');
    callbacks.script('/e', [503]);
    const id = await producer.enqueueDisconnect(disconnectJob('/e'));
    await expect(finished(producer, events, id)).rejects.toThrow('HTTP 503');

    const requests = callbacks.requests('/e');
    expect(requests).toHaveLength(ATTEMPTS);
    // Backoff grows: retry n waits at least BACKOFF_MS × 2^(n-1) × (1 - jitter).
    expect(requests[1]!.receivedAt - requests[0]!.receivedAt).toBeGreaterThanOrEqual(BACKOFF_MS / 2);
    expect(requests[2]!.receivedAt - requests[1]!.receivedAt).toBeGreaterThanOrEqual(BACKOFF_MS);
    expect(await deadLettersOf('/e')).toEqual([
      { namespace: '/e', kind: 'disconnect', clientId: '/e#u1#web-u1', reason: 'HTTP 503', attempts: ATTEMPTS, at: expect.any(Number), jobId: id },
    ]);
  });

  test('a receiver that refuses connections: retried, then a dead letter naming the network error', async () => {
    const closed = new CallbackServer();
    await closed.listen();
    const url = closed.url('/gone');
    await closed.close();
    await namespaceWithCallback('/n', '/unused', url);
    const id = await producer.enqueueDisconnect(disconnectJob('/n'));
    await expect(finished(producer, events, id)).rejects.toThrow('network error (ECONNREFUSED)');
    expect(await deadLettersOf('/n')).toEqual([expect.objectContaining({ reason: 'network error (ECONNREFUSED)', attempts: ATTEMPTS })]);
  });

  test('the list keeps the newest 1000 entries; readDeadLetters returns the newest first', async () => {
    const key = webhookDeadLetterKey('cap:');
    const entry = (n: number) => JSON.stringify({ namespace: '/cap', kind: 'disconnect', clientId: `c${n}`, reason: 'x', attempts: 1, at: n, jobId: String(n) });
    await redis.rpush(key, ...Array.from({ length: 1000 }, (_, i) => entry(999 - i)));
    // The processor's writer, through a permanent failure in a namespace of that prefix.
    const capKeys = new Keys('cap:');
    await new NamespaceStore(redis, capKeys).save('/cap', { disconnectCallback: 'ftp://x/' });
    const capWorker = buildWorker(workerConfig('cap:'), createLogger('worker', 'silent'));
    const capProducer = new WebhookQueue(connection(), capKeys.queuePrefix());
    const capEvents = new QueueEvents(QUEUES.webhooks, { connection: connection(), prefix: capKeys.queuePrefix() });
    try {
      await capEvents.waitUntilReady();
      await capWorker.start();
      const id = await capProducer.enqueueDisconnect(disconnectJob('/cap'));
      await expect(finished(capProducer, capEvents, id)).rejects.toThrow('not http(s)');
    } finally {
      await capWorker.close();
      await capProducer.close();
      await capEvents.close();
    }
    expect(await redis.llen(key)).toBe(1000);
    const newest = await readDeadLetters(redis, 'cap:', 2);
    expect(newest.map((d) => d.clientId)).toEqual(['/cap#u1#web-u1', 'c999']);
    expect(await redis.lindex(key, -1)).toBe(entry(1));
  });
});

describe('graceful close', () => {
  test('close() waits for a callback in flight, which completes; then the worker takes no more jobs', async () => {
    // A prefix of its own: the shared worker above must not take this job.
    const gKeys = new Keys('whg:');
    await new NamespaceStore(redis, gKeys).save('/g', { disconnectCallback: callbacks.url('/g') });
    callbacks.script('/g', ['hold']);
    const gWorker = buildWorker(workerConfig('whg:'), createLogger('worker', 'silent'), { webhooks: { timeoutMs: 10_000 } });
    const gProducer = new WebhookQueue(connection(), gKeys.queuePrefix());
    try {
      await gWorker.start();
      const id = await gProducer.enqueueDisconnect(disconnectJob('/g'));
      await callbacks.waitForRequests('/g', 1);

      // Answer only once the close has begun, so a close that did not wait would end first.
      gWorker.processors[0]!.once('closing', () => setImmediate(() => callbacks.release('/g', 200)));
      await gWorker.close();
      const closedAt = Date.now();

      const [request] = callbacks.requests('/g');
      expect(request!.answeredAt).toBeDefined();
      expect(request!.answeredAt!).toBeLessThanOrEqual(closedAt);
      const job = (await gProducer.bull.getJob(id))!;
      expect(await job.getState()).toBe('completed');
      expect(job.returnvalue).toEqual({ outcome: 'delivered', status: 200 });

      // Closed means closed: a new job waits in Redis.
      const next = await gProducer.enqueueDisconnect(disconnectJob('/g', { at: Date.now() + 1 }));
      expect(await (await gProducer.bull.getJob(next))!.getState()).toBe('waiting');
      expect(callbacks.requests('/g')).toHaveLength(1);
    } finally {
      await gWorker.close();
      await gProducer.close();
    }
  });
});

describe('callbacks to the host itself, link-local and metadata addresses', () => {
  test('refused without HERALD_CALLBACK_ALLOW_PRIVATE: no request, one dead letter, for good', async () => {
    // A prefix of its own, and the default configuration (no HERALD_CALLBACK_ALLOW_PRIVATE).
    const pKeys = new Keys('whp:');
    const pWorker = buildWorker(workerConfig('whp:', 'false'), createLogger('worker', 'silent'), { webhooks: { timeoutMs: TIMEOUT_MS } });
    const pProducer = new WebhookQueue(connection(), pKeys.queuePrefix());
    const pEvents = new QueueEvents(QUEUES.webhooks, { connection: connection(), prefix: pKeys.queuePrefix() });
    try {
      await pWorker.start();
      await pEvents.waitUntilReady();
      const port = new URL(callbacks.url('/p')).port;
      const urls = [callbacks.url('/p'), `http://localhost:${port}/p`, `http://[::ffff:127.0.0.1]:${port}/p`, 'http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]/p', 'http://0.0.0.0/p'];
      for (const [i, url] of urls.entries()) {
        const nsp = `/p${i}`;
        await new NamespaceStore(redis, pKeys).save(nsp, { disconnectCallback: url });
        const id = await pProducer.enqueueDisconnect(disconnectJob(nsp));
        await expect(finished(pProducer, pEvents, id)).rejects.toThrow('callback address refused');
        expect(await (await pProducer.bull.getJob(id))!.attemptsMade).toBe(1);
      }
      expect(callbacks.requests('/p')).toHaveLength(0);
    } finally {
      await pWorker.close();
      await pProducer.close();
      await pEvents.close();
    }
  });
});
