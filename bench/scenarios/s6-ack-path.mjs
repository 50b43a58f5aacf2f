/*
 * S6 — the ack path: S3's clients ack every push (ackPush {id}) at S3's fixed rate; how many acks
 * per second reach the delivery reports, and how long after the client sent it an ack shows in
 * the report (report lag). Goal: report lag p99 ≤ 1 s. Herald only: the baselines have no reports.
 */
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { sleep } from '../lib/clock.mjs';
import { newHistogram, summary } from '../lib/hist.mjs';
import { forkChild } from '../lib/ipc.mjs';
import { drain, runStep } from '../lib/load.mjs';
import { check, comparisonTable, cpuTable, fmt, REPO_ROOT } from '../lib/report.mjs';
import { NAMESPACE } from '../lib/systems.mjs';
import { setup } from './s3-user-push.mjs';

const require = createRequire(import.meta.url);
const { Keys } = require('@herald/store');

export const id = 's6';
export const title = 'ack path: every client acks every push of S3';
export const systems = ['herald'];

export function params(quick) {
  return quick
    ? { clients: 200, connectors: 2, logic: 1, generators: 2, drivers: 2, connections: 16, padBytes: 64, rate: 500, durationMs: 3000, sampleEvery: 5, probeIntervalMs: 20, drainTimeoutMs: 5000, p99LimitMs: 500 }
    : { clients: 5000, connectors: 2, logic: 1, generators: 2, drivers: 2, connections: 64, padBytes: 64, rate: 5000, durationMs: 20_000, sampleEvery: 10, probeIntervalMs: 20, drainTimeoutMs: 30_000, p99LimitMs: 500 };
}

export const fdNeeds = (p) => Math.ceil(p.clients / Math.min(p.connectors, p.generators)) + 200;

/** Every message's ackCount straight from its report hash (ids 1 … last). */
async function countAcks(url, keys, last) {
  const redis = new Redis(url);
  try {
    let acked = 0;
    let acks = 0;
    let over = 0;
    for (let from = 1; from <= last; from += 5000) {
      const pipeline = redis.pipeline();
      for (let id = from; id < Math.min(last + 1, from + 5000); id++) pipeline.hget(keys.message(NAMESPACE, id), 'ackCount');
      for (const [, value] of await pipeline.exec()) {
        const count = Number(value ?? 0);
        acks += count;
        if (count >= 1) acked++;
        if (count > 1) over++;
      }
    }
    return { acked, acks, over };
  } finally {
    redis.disconnect();
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const keys = new Keys('h:');
  const { system, clients, drivers, procs, teardown } = await setup('herald', p, ctx, { ack: true, sampleAckEvery: p.sampleEvery });
  let result;
  try {
    const prober = await forkChild('prober', join(REPO_ROOT, 'bench', 'generators', 'report-prober.mjs'));
    const stopProber = ctx.track(() => prober.stop());
    // Warm-up, then the measured phase; the prober follows ids from the first push on.
    const warm = await runStep({ clients, drivers, procs, rate: Math.min(p.rate, 500), durationMs: 1000, startN: 0, perPush: 1, drainTimeoutMs: p.drainTimeoutMs, p99LimitMs: p.p99LimitMs });
    await sleep(1500);
    await prober.call('start', { redisUrl: system.redis.url, seqKey: keys.messageSeq(NAMESPACE), messagePrefix: keys.messagePrefix(NAMESPACE), sampleEvery: p.sampleEvery, intervalMs: p.probeIntervalMs });
    const firstMeasuredId = warm.ok + 1;
    const step = await runStep({ clients, drivers, procs: [...procs, { name: 'prober', pid: prober.pid, side: 'client' }], rate: p.rate, durationMs: p.durationMs, startN: warm.nextN, perPush: 1, drainTimeoutMs: p.drainTimeoutMs, p99LimitMs: p.p99LimitMs });
    const probe = await prober.call('stop', { graceMs: p.drainTimeoutMs });
    await ctx.release(stopProber);
    await drain(clients, warm.ok + step.ok, p.drainTimeoutMs);
    const correctness = await clients.finish({ total: step.nextN, failed: [...warm.failed, ...step.failed] });
    const last = warm.ok + step.ok;
    const reports = await countAcks(system.redis.url, keys, last);

    const sentAt = new Map(correctness.ackSamples.filter(([id]) => id >= firstMeasuredId));
    const lag = newHistogram();
    let lastApplied = 0;
    for (const [id, appliedAt] of probe.applied) {
      const sent = sentAt.get(id);
      if (sent === undefined) continue;
      lag.recordValue(Math.max(1, appliedAt - sent));
      lastApplied = Math.max(lastApplied, appliedAt);
    }
    const measuredAcks = reports.acks - warm.ok;
    const appliedPerS = lastApplied > step.t0 ? measuredAcks / ((lastApplied - step.t0) / 1e6) : undefined;
    result = {
      name: 'Herald',
      step,
      lag: summary(lag),
      samples: lag.totalCount,
      unresolved: probe.outstanding.length,
      reports,
      last,
      acksSent: correctness.acksSent,
      acksSentPerS: step.ok / (p.durationMs / 1000),
      appliedPerS,
      correctness,
    };
    ctx.log(`  ${fmt(appliedPerS)} acks/s applied; report lag p50 ${fmt(result.lag.p50)} ms, p99 ${fmt(result.lag.p99)} ms; ${reports.acked} of ${last} reports acked`);
  } finally {
    await teardown();
  }
  const r = result;
  const body = [
    comparisonTable({ herald: r }, ['herald'], [
      { label: 'clients (user rooms) / connectors / logic', get: () => `${p.clients} / ${p.connectors} / ${p.logic}` },
      { label: 'pushes/s offered / delivered in window', get: () => `${fmt(p.rate)} / ${fmt(r.step.windowDeliveriesPerS)}` },
      { label: 'acks sent by clients (whole run)', get: () => r.acksSent },
      { label: 'acks/s applied to reports', get: () => r.appliedPerS },
      { label: 'report lag p50 / p90 (ack sent → visible in the report)', get: () => `${fmt(r.lag.p50)} / ${fmt(r.lag.p90)} ms` },
      { label: 'report lag p99', get: () => r.lag.p99, unit: ' ms', goal: (h) => (h === undefined ? '≤ 1 s' : `≤ 1 s ${check(h <= 1000)}`) },
      { label: 'report lag p99.9 / max', get: () => `${fmt(r.lag.p999)} / ${fmt(r.lag.max)} ms` },
      { label: 'lag samples (every Nth id) / never applied', get: () => `${r.samples} (N=${p.sampleEvery}) / ${r.unresolved}` },
      { label: 'push→receive p50 / p99 with acks', get: () => `${fmt(r.step.latency.p50)} / ${fmt(r.step.latency.p99)} ms` },
      { label: 'REST p99 with acks', get: () => r.step.rest.p99, unit: ' ms' },
      { label: 'CPU-µs per push + its ack (servers + Redis)', get: () => r.step.cpuUsPerPush },
      { label: 'busiest load generator', get: () => `${fmt(r.step.cpu.clientMaxPct)} %${r.step.clientBound ? ' client-bound!' : ''}` },
      { label: 'reports with their ack / messages (must be equal)', get: () => `${r.reports.acked} / ${r.last}`, goal: () => check(r.reports.acked === r.last) },
      { label: 'reports counting an ack twice', get: () => r.reports.over, goal: () => `0 ${check(r.reports.over === 0)}` },
      { label: 'missing deliveries (must be 0)', get: () => r.correctness.missing, goal: (h) => `0 ${check(h === 0)}` },
    ]),
    '',
    'CPU per process in the measured phase:',
    '',
    cpuTable({ herald: r }, ['herald'], (x) => x.step.cpu),
    '',
    `Lag is measured on every ${p.sampleEvery}th message id: the client generator notes when it sent the ack, a prober reads the report hash's ackCount every ${p.probeIntervalMs} ms (resolution). Reports are then checked for every message.`,
  ].join('\n');
  return { body, failed: r.correctness.missing > 0 || r.reports.acked !== r.last };
}
