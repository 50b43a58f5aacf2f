#!/usr/bin/env node
/*
 * How acks reach the delivery report: the two designs the socket-side issue asked to measure.
 *
 *   script  the connector's batch goes straight to Redis as one call of report-batch.lua (Herald's
 *           choice, services/connector/src/core/report-batcher.ts)
 *   queue   the connector adds the batch as a BullMQ job to a `reports` queue and a worker applies
 *           it with the same script (what the worker issue sketched)
 *
 * Both apply the same batches (S6's load by default: 5 000 acks/s in batches every 20 ms) at a fixed
 * rate on a private redis-server, and report the lag from "batch handed over" to "batch applied"
 * (HDR histogram), and the CPU of this process (connector + worker sides) and of Redis per ack.
 *
 *   node bench/micro/ack-path.mjs [--seconds 10] [--acksPerSecond 5000] [--batchMs 20]
 *
 * Needs the build (`npm run build`): it uses @herald/store's script and key schema.
 */
import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { newHistogram, summary } from '../lib/hist.mjs';
import { cpuTimeUs } from '../lib/procfs.mjs';

const require = createRequire(import.meta.url);
const { Keys, Scripts, packAck, reportBatchCall } = require('@herald/store');
const { startRedis } = require('@herald/test-support');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = option('seconds', 10);
const acksPerSecond = option('acksPerSecond', 5000);
const batchMs = option('batchMs', 20);
const perBatch = Math.round((acksPerSecond * batchMs) / 1000);
const NSP = '/bench';
const MESSAGES = 2000;
const keys = new Keys('h:');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function redisPid(client) {
  return Number(/process_id:(\d+)/.exec(await client.info('server'))[1]);
}

/** Messages the acks refer to, as the push script leaves them (a hash that expires). */
async function seed(client) {
  const pipeline = client.pipeline();
  for (let id = 1; id <= MESSAGES; id++) {
    pipeline.hset(keys.message(NSP, id), 'id', id, 'ackCount', 0, 'ackIOSCount', 0, 'ackAndroidCount', 0);
    pipeline.pexpire(keys.message(NSP, id), 3_600_000);
  }
  await pipeline.exec();
}

/** One batch of `perBatch` acks from distinct clients, as the batcher builds it (report-batch.lua's packed form). */
function batch(n) {
  const messages = new Map();
  for (let i = 0; i < perBatch; i++) {
    const id = 1 + ((n * perBatch + i) % MESSAGES);
    const platform = i % 2 ? 'android' : 'ios';
    if (!messages.has(id)) messages.set(id, { deliveries: [], acks: [] });
    messages.get(id).acks.push(packAck(platform, Date.now(), `${NSP}#u${n}-${i}#${platform}-x`));
  }
  return reportBatchCall(keys, NSP, `bench-${n}`, messages, 200, 'bench');
}

/** Runs `send` for one batch every batchMs on an absolute timeline; `send` resolves once the batch is applied. */
async function drive(name, redis, send) {
  const lag = newHistogram();
  const total = Math.round((seconds * 1000) / batchMs);
  const pid = await redisPid(redis);
  const cpu0 = { self: cpuTimeUs(process.pid), redis: cpuTimeUs(pid) };
  const t0 = performance.now();
  const pending = [];
  for (let n = 0; n < total; n++) {
    const due = t0 + n * batchMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    // Lag is counted from the intended hand-over time, so a stalled path cannot hide its stall.
    pending.push(send(batch(n), n).then(() => lag.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)))));
  }
  await Promise.all(pending);
  const cpu = { self: cpuTimeUs(process.pid) - cpu0.self, redis: cpuTimeUs(pid) - cpu0.redis };
  const acks = total * perBatch;
  return { name, acks, lag: summary(lag), cpuPerAck: { node: cpu.self / acks, redis: cpu.redis / acks } };
}

/** Every ack of the run counted once: the sum of ackCount over the messages. */
async function counted(client) {
  const pipeline = client.pipeline();
  for (let id = 1; id <= MESSAGES; id++) pipeline.hget(keys.message(NSP, id), 'ackCount');
  return (await pipeline.exec()).reduce((sum, [, v]) => sum + Number(v ?? 0), 0);
}

async function main() {
  const server = await startRedis();
  const results = [];
  try {
    // --- script: one EVALSHA per batch
    {
      const redis = new Redis(server.url);
      await redis.flushall();
      await seed(redis);
      const scripts = new Scripts(redis);
      results.push(await drive('script (Herald)', redis, (b) => scripts.reportBatch(b.keys, b.args)));
      results.at(-1).counted = await counted(redis);
      redis.disconnect();
    }
    // --- queue: a BullMQ job per batch, applied by a worker with the same script
    {
      const redis = new Redis(server.url);
      await redis.flushall();
      await seed(redis);
      const queueRedis = new Redis(server.url, { maxRetriesPerRequest: null });
      const queue = new Queue('reports', { connection: queueRedis, prefix: 'h:q' });
      const workerRedis = new Redis(server.url, { maxRetriesPerRequest: null });
      const scriptRedis = new Redis(server.url);
      const scripts = new Scripts(scriptRedis);
      const done = new Map();
      const worker = new Worker(
        'reports',
        async (job) => {
          await scripts.reportBatch(job.data.keys, job.data.args);
          return job.data.n;
        },
        { connection: workerRedis, prefix: 'h:q', concurrency: 8, removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } },
      );
      worker.on('completed', (job) => done.get(job.data.n)?.());
      await worker.waitUntilReady();
      results.push(
        await drive(
          'queue (BullMQ reports)',
          redis,
          (b, n) =>
            new Promise((resolve, reject) => {
              done.set(n, () => {
                done.delete(n);
                resolve();
              });
              queue.add('batch', { ...b, n }, { removeOnComplete: { count: 1000 } }).catch(reject);
            }),
        ),
      );
      results.at(-1).counted = await counted(redis);
      await worker.close();
      await queue.close();
      for (const client of [redis, queueRedis, workerRedis, scriptRedis]) client.disconnect();
    }
  } finally {
    await server.stop();
  }
  const fmt = (n) => (n === undefined ? '—' : n.toFixed(n < 10 ? 2 : 1));
  console.log(`ack path at ${acksPerSecond} acks/s in batches of ${perBatch} every ${batchMs} ms, ${seconds} s each`);
  console.log('| path | acks (counted in reports) | lag p50 ms | lag p99 ms | lag max ms | CPU-µs per ack, Node (both sides) | CPU-µs per ack, Redis |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.acks} (${r.counted}) | ${fmt(r.lag.p50)} | ${fmt(r.lag.p99)} | ${fmt(r.lag.max)} | ${fmt(r.cpuPerAck.node)} | ${fmt(r.cpuPerAck.redis)} |`);
  }
}

await main();
