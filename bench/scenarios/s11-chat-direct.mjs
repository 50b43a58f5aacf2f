/*
 * S11 — chat protocol (seed 004): `message/direct` between logged-in users spread over 2
 * connectors, at a rising rate. Each message goes from a random user to one other random user;
 * the sender waits for the `{statusCode: 201, body: {id, sent}}` answer, the target gets `message`.
 * Measures messages/s at saturation, send → answer and send → receive latency and CPU per message
 * at half of it. Beside a bare socket.io server doing the same job (bench/baselines/b-chat-server.mjs:
 * adapter, tokens in memory, online users in one Redis hash, no storage): Herald also stores each
 * message with its report, and keeps an inbox and APNs for offline targets.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../lib/clock.mjs';
import { merge, summary } from '../lib/hist.mjs';
import { forkChild } from '../lib/ipc.mjs';
import { CpuMeter } from '../lib/procfs.mjs';
import { check, comparisonTable, fmt, REPO_ROOT } from '../lib/report.mjs';
import { risingReport, risingThenHalf } from '../lib/rising.mjs';
import { NAMESPACE, heraldApi, startHerald } from '../lib/systems.mjs';

const require = createRequire(import.meta.url);
const support = require('@herald/test-support');

export const id = 's11';
export const title = 'chat protocol: message/direct between users on 2 connectors, rising rate';
// `b-sio` is, in this scenario, the bare socket.io chat server (b-chat-server.mjs).
export const systems = ['herald', 'b-sio'];

export function params(quick) {
  return quick
    ? { users: 100, connectors: 2, generators: 1, start: 20, factor: 2, max: 160, stepMs: 1500, halfMs: 2000, drainMs: 3000, p99LimitMs: 500, padBytes: 32 }
    : { users: 1000, connectors: 2, generators: 2, start: 50, factor: 1.25, max: 10_000, stepMs: 5000, halfMs: 20_000, drainMs: 3000, p99LimitMs: 500, padBytes: 64 };
}

export const fdNeeds = (p) => Math.ceil(p.users / p.generators) + 200;

async function startHeraldChat(p) {
  const system = await startHerald({ connectors: p.connectors, logic: 1, env: { HERALD_SOCKET_PATHS: `/socket.io,/wechat=${NAMESPACE}` } });
  try {
    const saved = await heraldApi(system, '/api/admin/namespace/save', { body: { key: NAMESPACE, protocol: 'chat' }, authorization: system.adminAuthorization });
    if (saved.status !== 200) throw new Error(`namespace save: ${saved.status} ${JSON.stringify(saved.body)}`);
    // The connectors learn the protocol through the namespace channel.
    await sleep(300);
    return { ...system, origins: system.urls.map((url) => new URL(url).origin) };
  } catch (error) {
    await system.stop();
    throw error;
  }
}

async function startBareChat(p) {
  const probeDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const redis = await support.startRedis();
  const children = [];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    await redis.stop();
    rmSync(probeDir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < p.connectors; i++) {
      children.push(
        await forkChild(`server${i}`, join(REPO_ROOT, 'bench', 'baselines', 'b-chat-server.mjs'), {
          args: [redis.url],
          env: { BENCH_PROBE_FILE: join(probeDir, `server${i}.json`) },
          execArgv: ['--expose-gc', '--require', join(REPO_ROOT, 'bench', 'lib', 'probe.cjs')],
        }),
      );
    }
    const { Redis } = require('ioredis');
    const client = new Redis(redis.url);
    const redisPid = Number(/process_id:(\d+)/.exec(await client.info('server'))[1]);
    client.disconnect();
    return {
      key: 'b-sio',
      name: 'B-sio (bare chat)',
      origins: children.map((c) => `http://127.0.0.1:${c.info.port}`),
      procs: [...children.map((c) => ({ name: c.name, pid: c.pid, side: 'server', role: 'server' })), { name: 'redis', pid: redisPid, side: 'server', role: 'redis' }],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One step at `rate` messages/s on every generator; "kept up" as in S2. */
async function runStep(gens, procs, { stepId, rate, durationMs, drainMs, p99LimitMs, padBytes }) {
  const meter = new CpuMeter(procs).start();
  const per = rate / gens.length;
  const results = await Promise.all(gens.map((g) => g.call('step', { id: stepId, rate: per, durationMs, drainMs, padBytes })));
  const cpu = meter.stop();
  const sum = (field) => results.reduce((a, r) => a + r[field], 0);
  const ack = summary(merge(results.map((r) => r.ackHist)));
  const deliver = summary(merge(results.map((r) => r.deliverHist)));
  const sent = sum('sent');
  const acked = sum('acked');
  const received = sum('received');
  const online = sum('online');
  const windowMs = Math.max(...results.map((r) => r.windowMs));
  const keptUp = acked === sent && received === online && sum('offline') === 0 && (deliver.p99 ?? Infinity) <= p99LimitMs && windowMs <= durationMs * 1.1;
  return {
    rate,
    sent,
    acked,
    refused: sum('refused'),
    offline: sum('offline'),
    received,
    lost: online - received,
    stray: sum('stray'),
    ack,
    deliver,
    keptUp,
    cpu,
    cpuUsPerMessage: acked > 0 ? cpu.serverUs / acked : undefined,
  };
}

async function measure(key, p, ctx) {
  const system = key === 'herald' ? await startHeraldChat(p) : await startBareChat(p);
  const stopSystem = ctx.track(() => system.stop());
  const gens = [];
  const stopGens = ctx.track(() => Promise.all(gens.map((g) => g.stop())));
  try {
    const per = Math.ceil(p.users / p.generators);
    for (let g = 0; g < p.generators; g++) {
      const gen = await forkChild(`gen${g}`, join(REPO_ROOT, 'bench', 'generators', 'chat-clients.mjs'));
      gens.push(gen);
      await gen.call('init', { origins: system.origins, firstIndex: g * per, count: Math.min(per, p.users - g * per) });
    }
    const connected = await Promise.all(gens.map((g) => g.call('connect')));
    ctx.log(`${system.name}: ${connected.reduce((a, c) => a + c.done, 0)} users logged in (${(Math.max(...connected.map((c) => c.elapsedMs)) / 1000).toFixed(1)} s)`);
    const procs = [...system.procs, ...gens.map((g) => ({ name: g.name, pid: g.pid, side: 'client' }))];
    const step = (rate, durationMs, stepId) => runStep(gens, procs, { stepId, rate, durationMs, drainMs: p.drainMs, p99LimitMs: p.p99LimitMs, padBytes: p.padBytes });
    const run = await risingThenHalf(ctx, p, step, (s) => `${s.acked}/${s.sent} answered, ${s.received} received, answer p50 ${fmt(s.ack.p50)} / p99 ${fmt(s.ack.p99)} ms, receive p50 ${fmt(s.deliver.p50)} / p99 ${fmt(s.deliver.p99)} ms`);
    return { name: system.name, ...run };
  } finally {
    await ctx.release(stopGens);
    await ctx.release(stopSystem);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const results = {};
  for (const key of ctx.systems) results[key] = await measure(key, p, ctx);
  const keys = ctx.systems;
  const main = comparisonTable(results, keys, [
    { label: 'users / connectors', get: () => `${p.users} / ${p.connectors}` },
    { label: 'sustained messages/s (last step that kept up)', get: (r) => r.sustained ?? 0, ratio: true, goal: (h, s, x) => (x === undefined ? 'report the ratio' : `${fmt(x, 2)}× of bare`) },
    { label: 'saturated below --max', get: (r) => (r.saturated ? 'yes' : `no (≥ ${p.max}/s)`) },
    { label: 'half-rate phase: messages/s', get: (r) => r.halfRate },
    { label: 'half-rate send → answer p50', get: (r) => r.half.ack.p50, unit: ' ms', ratio: true },
    { label: 'half-rate send → answer p99', get: (r) => r.half.ack.p99, unit: ' ms', ratio: true },
    { label: 'half-rate send → receive p50', get: (r) => r.half.deliver.p50, unit: ' ms', ratio: true },
    { label: 'half-rate send → receive p99', get: (r) => r.half.deliver.p99, unit: ' ms', ratio: true, goal: (h) => (h === undefined ? '≤ 50 ms' : `≤ 50 ms ${check(h <= 50)}`) },
    { label: 'half-rate CPU-µs per message (servers + Redis)', get: (r) => r.half.cpuUsPerMessage, ratio: true },
    { label: 'busiest load generator (half rate)', get: (r) => `${fmt(r.half.cpu.clientMaxPct)} %` },
    { label: 'lost messages (answered online, never received; must be 0)', get: (r) => r.lost, goal: (h) => (h === undefined ? '0' : `0 ${check(h === 0)}`) },
  ]);
  return risingReport(results, keys, p, main, {
    keptUp: `every message answered and received within ${p.drainMs} ms after the step, receive p99 ≤ ${p.p99LimitMs} ms`,
    columns: ['messages/s', 'sent', 'answered', 'received', 'answer p99 ms', 'receive p50 ms', 'receive p99 ms', 'CPU-µs/message', 'busiest generator', 'kept up'],
    row: (s) => [s.rate, s.sent, s.acked, s.received, s.ack.p99, s.deliver.p50, s.deliver.p99, s.cpuUsPerMessage, `${fmt(s.cpu.clientMaxPct)} %`, s.keptUp ? 'yes' : 'no'],
  });
}
