/**
 * The worker as pm2 runs it (a child process from the built output): SIGTERM while a disconnect
 * callback is in flight lets the callback finish and be recorded, then the process exits 0 by itself
 * (STYLE.md 13) — fetch's kept-alive sockets do not hold it.
 */
import { QUEUES, WebhookQueue } from '@herald/queues';
import { Keys, NamespaceStore } from '@herald/store';
import { startRedis, startService, type TestRedis } from '@herald/test-support';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { CallbackServer } from './support/callback-server';

const keys = new Keys('whp:');
let server: TestRedis;
let redis: Redis;
let callbacks: CallbackServer;
let producer: WebhookQueue;
let events: QueueEvents;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  callbacks = await new CallbackServer().listen();
  const connection = { host: '127.0.0.1', port: server.port };
  producer = new WebhookQueue(connection, keys.queuePrefix());
  events = new QueueEvents(QUEUES.webhooks, { connection, prefix: keys.queuePrefix() });
  await events.waitUntilReady();
});
afterAll(async () => {
  await producer?.close();
  await events?.close();
  await callbacks?.close();
  await redis?.quit();
  await server?.stop();
});

test('SIGTERM with a callback in flight: the callback completes, the worker exits 0', async () => {
  await new NamespaceStore(redis, keys).save('/p', { disconnectCallback: callbacks.url('/p'), callbackAuth: 'secret-p' });
  // The receiver is on 127.0.0.1, which only HERALD_CALLBACK_ALLOW_PRIVATE permits.
  const worker = await startService('worker', { env: { HERALD_REDIS_URL: server.url, HERALD_REDIS_PREFIX: 'whp:', HERALD_CALLBACK_ALLOW_PRIVATE: 'true' } });
  try {
    // A first callback answered at once: its kept-alive connection is still open at exit.
    const first = await producer.enqueueDisconnect({ kind: 'disconnect', namespace: '/p', clientId: '/p#u1#web-u1', query: { uuid: 'u1' }, at: 1 });
    expect(await (await producer.bull.getJob(first))!.waitUntilFinished(events, 10_000)).toEqual({ outcome: 'delivered', status: 200 });

    callbacks.script('/p', ['hold']);
    const id = await producer.enqueueDisconnect({ kind: 'disconnect', namespace: '/p', clientId: '/p#u2#web-u2', query: { uuid: 'u2' }, at: 2 });
    await callbacks.waitForRequests('/p', 2);
    const exited = worker.stop('SIGTERM');
    await worker.waitForLog((l) => l.msg === 'stopping');
    callbacks.release('/p', 204);

    expect(await exited).toBe(0);
    expect(callbacks.requests('/p')[1]!.answeredAt).toBeDefined();
    const job = (await producer.bull.getJob(id))!;
    expect(await job.getState()).toBe('completed');
    expect(job.returnvalue).toEqual({ outcome: 'delivered', status: 204 });
    expect(worker.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
    expect(JSON.stringify(worker.logs)).not.toContain('secret-p');
  } finally {
    await worker.stop('SIGKILL');
  }
});
