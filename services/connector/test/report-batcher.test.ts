import { Writable } from 'node:stream';
import pino from 'pino';
import { InboxStore, Keys, Scripts } from '@herald/store';
import { startRedis, until, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { ReportBatcher } from '../src/core/report-batcher';

/*
 * The report path against a real Redis that is slow (writes paused) or gone (killed): no ack and
 * no delivery count is dropped, intake is paused above the bound and resumed below it, the log is
 * a few summary lines (not one per update), and the reports end exact once Redis answers again.
 */
const keys = new Keys('h:');
const NS = '/rb';
const MESSAGES = 200;
const CLIENTS = 30;
let server: TestRedis;
let redis: Redis;
let admin: Redis;

beforeAll(async () => {
  server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  // As the connector's main connection: commands fail after two retries while Redis is away.
  redis = new Redis(server.url, { retryStrategy: () => 50, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  admin = new Redis(server.url, { retryStrategy: () => 50 });
  admin.on('error', () => undefined);
});
afterAll(async () => {
  redis.disconnect();
  admin.disconnect();
  await server.stop();
});

/** A logger whose JSON lines are kept for the assertions. */
function capturedLogger(): { logger: pino.Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** Fresh messages 1 … MESSAGES of namespace NS (what logic stores), with no counts yet. */
async function freshMessages(): Promise<void> {
  await admin.flushall();
  const pipeline = admin.pipeline();
  for (let id = 1; id <= MESSAGES; id++) pipeline.hset(keys.message(NS, id), 'room', 'r');
  await pipeline.exec();
}

/** Every client acks every message, the delivery counts too: 6 200 updates, without yielding. */
function offerAll(batcher: ReportBatcher, firstId = 1, lastId = MESSAGES): void {
  for (let id = firstId; id <= lastId; id++) {
    batcher.delivered(NS, id, CLIENTS);
    for (let c = 0; c < CLIENTS; c++) batcher.ack(NS, id, 'android', `${NS}#u${c}#android-x${c}`);
  }
}

/** Per message: ackCount, ackAndroidCount and onlineClientCount of its report. */
async function reports(): Promise<{ ack: number[]; android: number[]; online: number[] }> {
  const pipeline = admin.pipeline();
  for (let id = 1; id <= MESSAGES; id++) pipeline.hmget(keys.message(NS, id), 'ackCount', 'ackAndroidCount', 'onlineClientCount');
  const rows = ((await pipeline.exec()) ?? []).map(([, v]) => (v as (string | null)[]).map((x) => Number(x ?? 0)));
  return { ack: rows.map((r) => r[0]!), android: rows.map((r) => r[1]!), online: rows.map((r) => r[2]!) };
}

test('Redis slow (writes paused): intake pauses above the bound, resumes below it, nothing dropped, reports exact', async () => {
  await freshMessages();
  const { logger, lines } = capturedLogger();
  const pressure: boolean[] = [];
  const batcher = new ReportBatcher(new Scripts(redis), keys, new InboxStore(redis, keys, new Scripts(redis)), logger, {
    maxBatch: 100,
    maxPending: 2000,
    pressure: (high) => pressure.push(high),
  });
  try {
    await admin.client('PAUSE', 1500, 'WRITE');
    offerAll(batcher);
    // 6 200 updates offered while Redis takes none: above the bound of 2 000, intake must pause.
    expect(pressure).toEqual([true]);
    expect(batcher.pending).toBe(MESSAGES * (CLIENTS + 1));
    await batcher.flush();
    expect(batcher.pending).toBe(0);
    expect(pressure).toEqual([true, false]);
    const { ack, android, online } = await reports();
    expect(ack).toEqual(new Array(MESSAGES).fill(CLIENTS));
    expect(android).toEqual(new Array(MESSAGES).fill(CLIENTS));
    expect(online).toEqual(new Array(MESSAGES).fill(CLIENTS));
    // A summary when the bound was reached and one when intake resumed, not a line per update.
    expect(lines.some((l) => l.msg.startsWith('report path at its bound'))).toBe(true);
    expect(lines.some((l) => l.msg.includes('reading sockets again'))).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  } finally {
    await batcher.close();
  }
});

test('Redis down: updates are kept and retried (one summary line, not one per update), then written exactly once it is back', async () => {
  await freshMessages();
  const { logger, lines } = capturedLogger();
  const batcher = new ReportBatcher(new Scripts(redis), keys, new InboxStore(redis, keys, new Scripts(redis)), logger, {
    maxBatch: 100,
    retryMs: 200,
  });
  try {
    offerAll(batcher, 1, 50);
    await batcher.flush();
    await server.kill();
    // Acks keep coming while Redis is away, over several flushes.
    for (let first = 51; first <= MESSAGES; first += 30) {
      offerAll(batcher, first, Math.min(MESSAGES, first + 29));
      await new Promise((r) => setTimeout(r, 60));
    }
    await until(async () => (batcher.status === 'down' ? true : undefined), 10_000, 20);
    // Several retries fail meanwhile; the updates stay.
    await new Promise((r) => setTimeout(r, 1000));
    expect(batcher.pending).toBe((MESSAGES - 50) * (CLIENTS + 1));
    await server.restart();
    await batcher.flush();
    expect(batcher.status).toBe('ok');
    const { ack, android, online } = await reports();
    expect(ack).toEqual(new Array(MESSAGES).fill(CLIENTS));
    expect(android).toEqual(new Array(MESSAGES).fill(CLIENTS));
    expect(online).toEqual(new Array(MESSAGES).fill(CLIENTS));
    const failing = lines.filter((l) => l.msg.startsWith('report writes failing'));
    expect(failing).toHaveLength(1);
    // The inbox removals of those acks failed at every flush while Redis was away: one line.
    expect(lines.filter((l) => l.msg === 'could not clear inbox entries')).toHaveLength(1);
    expect(lines.some((l) => l.msg === 'report writes succeed again')).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(6);
  } finally {
    await batcher.close();
  }
});
