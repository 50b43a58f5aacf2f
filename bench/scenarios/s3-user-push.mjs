/*
 * S3 — REST push → single users: `clients` clients, each alone in its user room, pushes spread
 * round-robin over them. Measures REST and push→receive latency at a fixed rate (5 000/s), then
 * the highest rate sustained with zero loss (rising). Goals: ≥ 10 000 pushes/s; ≥ 0.6 × B-sio
 * (issue 13; issue 6 asked 0.5 ×).
 * `--batch N` sends Herald's pushes N at a time through `POST /api/auth/push/batch` (S3b compares).
 * `--rounds N` measures every system N times, interleaved (Herald, B-sio, …, Herald, B-sio, …): on
 * a shared VM each ceiling moves a step or two between runs minutes apart, so one run per system
 * decides a ratio by chance. The tables then show each system's round with the median sustained
 * rate (of an even count, the lower one), and every round's rate and ratio below them.
 */
import { runRedisBenchmark } from '../baselines/b-redis.mjs';
import { sleep } from '../lib/clock.mjs';
import { drain, rise, runStep, startClients, startDrivers } from '../lib/load.mjs';
import { check, comparisonTable, cpuTable, fmt, table } from '../lib/report.mjs';
import { SYSTEMS } from '../lib/systems.mjs';

export const id = 's3';
export const title = 'REST push → single users (each client its own user room)';
export const systems = ['herald', 'b-sio', 'b-ws'];

export function params(quick) {
  return quick
    ? { clients: 200, connectors: 2, logic: 1, generators: 2, drivers: 2, connections: 16, padBytes: 64, fixedRate: 500, fixedMs: 2000, start: 250, factor: 2, max: 2000, stepMs: 1500, drainTimeoutMs: 2000, p99LimitMs: 500, finalDrainMs: 5000, redisRequests: 20_000, batch: 0, rounds: 1 }
    : { clients: 5000, connectors: 2, logic: 1, generators: 2, drivers: 2, connections: 64, padBytes: 64, fixedRate: 5000, fixedMs: 10_000, start: 1000, factor: 1.25, max: 40_000, stepMs: 5000, drainTimeoutMs: 3000, p99LimitMs: 500, finalDrainMs: 30_000, redisRequests: 500_000, batch: 0, rounds: 1 };
}

export const fdNeeds = (p) => Math.ceil(p.clients / Math.min(p.connectors, p.generators)) + 200;

/** A system with `clients` connected clients (one per user room) and the push drivers. */
export async function setup(key, p, ctx, { ack = false, sampleAckEvery = 0 } = {}) {
  const system = await SYSTEMS[key]({ connectors: p.connectors, logic: p.logic });
  const stopSystem = ctx.track(() => system.stop());
  const clients = await startClients(system, { clients: p.clients, generators: p.generators, mode: 'users', ack, sampleAckEvery, uuidPrefix: 'u', connectConcurrency: 200 });
  const stopClients = ctx.track(() => clients.stop());
  const drivers = await startDrivers(system, { drivers: p.drivers, mode: 'users', clientsTotal: p.clients, expectAckCount: 1, connections: p.connections, padBytes: p.padBytes, uuidPrefix: 'u', batch: p.batch });
  const stopDrivers = ctx.track(() => drivers.stop());
  const teardown = async () => {
    await ctx.release(stopDrivers);
    await ctx.release(stopClients);
    await ctx.release(stopSystem);
  };
  try {
    const connect = await clients.connect();
    if (connect.failed) throw new Error(`${system.name}: ${connect.failed} of ${p.clients} clients could not connect: ${JSON.stringify(connect.failures)}`);
    ctx.log(`${system.name}: ${connect.done} clients, each in its user room (${(connect.elapsedMs / 1000).toFixed(1)} s)`);
  } catch (error) {
    await teardown();
    throw error;
  }
  return { system, clients, drivers, procs: [...system.procs, ...clients.procs, ...drivers.procs], teardown };
}

/** One system through S3's phases (fixed rate, then rising); `p.batch` > 0 pushes through the batch route. */
export async function measure(key, p, ctx) {
  const { system, clients, drivers, procs, teardown } = await setup(key, p, ctx);
  try {
    const failed = [];
    let n = 0;
    let ok = 0;
    const keep = (step) => {
      failed.push(...step.failed);
      ok += step.ok;
      n = step.nextN;
      return step;
    };
    const stepArgs = { clients, drivers, procs, perPush: 1, drainTimeoutMs: p.drainTimeoutMs, p99LimitMs: p.p99LimitMs };
    keep(await runStep({ ...stepArgs, rate: Math.min(p.start, p.fixedRate), durationMs: 1000, startN: n }));
    await sleep(500);
    const fixed = keep(await runStep({ ...stepArgs, rate: p.fixedRate, durationMs: p.fixedMs, startN: n, drainTimeoutMs: p.finalDrainMs }));
    ctx.log(`  fixed ${p.fixedRate}/s: REST p99 ${fixed.rest.p99?.toFixed(1)} ms, push→receive p99 ${fixed.latency.p99?.toFixed(1)} ms, lost ${fixed.lost}`);
    await drain(clients, ok, p.finalDrainMs);
    await sleep(1000);
    const rising = await rise({ ...stepArgs, start: p.start, factor: p.factor, max: p.max, durationMs: p.stepMs, startN: n, log: ctx.log });
    rising.steps.forEach(keep);
    await drain(clients, ok, p.finalDrainMs);
    const correctness = await clients.finish({ total: n, failed });
    const redis = key === 'herald' && p.redisRequests > 0 ? await runRedisBenchmark({ port: system.redis.port, requests: p.redisRequests, payloadBytes: 200, subscribers: p.connectors }) : undefined;
    return { name: system.name, fixed, rising, correctness, pushes: n, accepted: ok, failedPushes: failed.length, redis };
  } finally {
    await teardown();
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const keys = ctx.systems;
  const rounds = Math.max(1, Math.floor(Number(p.rounds) || 1));
  const runs = Object.fromEntries(keys.map((key) => [key, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const key of keys) {
      if (rounds > 1) ctx.log(`round ${round} of ${rounds}: ${key}`);
      runs[key].push(await measure(key, { ...p, redisRequests: round === rounds ? p.redisRequests : 0 }, ctx));
    }
  }
  const sustained = (r) => r.rising.sustainedRate ?? 0;
  const results = {};
  for (const key of keys) {
    const sorted = [...runs[key]].sort((a, b) => sustained(a) - sustained(b));
    results[key] = { ...sorted[Math.floor((sorted.length - 1) / 2)], redis: runs[key].at(-1).redis };
  }
  const fixed = `at ${fmt(p.fixedRate)}/s`;
  const main = comparisonTable(results, keys, [
    { label: 'clients (user rooms) / connectors / logic', get: (r) => `${p.clients} / ${p.connectors} / ${r.name === 'Herald' ? p.logic : 1}` },
    {
      label: 'sustained pushes/s, zero loss (last step that kept up)',
      get: (r) => r.rising.sustainedRate ?? 0,
      ratio: true,
      goal: (h, s, x) => [h === undefined ? '≥ 10 000/s' : `≥ 10 000/s ${check(h >= 10_000)}`, x === undefined ? '≥ 0.6× B-sio' : `≥ 0.6× B-sio ${check(x >= 0.6)}`].join('; '),
    },
    { label: 'saturated below --max', get: (r) => (r.rising.saturated ? 'yes' : `no (≥ ${p.max}/s)`) },
    { label: 'peak deliveries/s inside a step', get: (r) => r.rising.peakWindowDeliveries, ratio: true },
    { label: `${fixed}: delivered/s in window`, get: (r) => r.fixed.windowDeliveriesPerS },
    { label: `${fixed}: REST p50 / p99`, get: (r) => `${fmt(r.fixed.rest.p50)} / ${fmt(r.fixed.rest.p99)} ms` },
    { label: `${fixed}: REST p99`, get: (r) => r.fixed.rest.p99, unit: ' ms', ratio: true },
    { label: `${fixed}: push→receive p50 / p99`, get: (r) => `${fmt(r.fixed.latency.p50)} / ${fmt(r.fixed.latency.p99)} ms` },
    { label: `${fixed}: push→receive p99`, get: (r) => r.fixed.latency.p99, unit: ' ms', ratio: true },
    { label: `${fixed}: push→receive p99.9 / max`, get: (r) => `${fmt(r.fixed.latency.p999)} / ${fmt(r.fixed.latency.max)} ms` },
    { label: `${fixed}: lost (must be 0)`, get: (r) => r.fixed.lost },
    { label: `${fixed}: CPU-µs per push (servers + Redis)`, get: (r) => r.fixed.cpuUsPerPush, ratio: true },
    { label: `${fixed}: driver lateness p99`, get: (r) => r.fixed.lateness.p99, unit: ' ms' },
    { label: `${fixed}: busiest load generator`, get: (r) => `${fmt(r.fixed.cpu.clientMaxPct)} %${r.fixed.clientBound ? ' client-bound!' : ''}` },
    { label: 'pushes sent / accepted', get: (r) => `${r.pushes} / ${r.accepted}` },
    { label: 'missing deliveries, whole run (must be 0)', get: (r) => r.correctness.missing, goal: (h) => (h === undefined ? '0' : `0 ${check(h === 0)}`) },
    { label: 'duplicates / unexpected', get: (r) => `${r.correctness.duplicates} / ${r.correctness.unexpected}` },
    { label: 'failed pushes / expectAckCount mismatches', get: (r) => `${r.failedPushes} / ${r.rising.steps.reduce((a, s) => a + s.mismatches, 0) + r.fixed.mismatches}` },
  ]);
  const stepTables = keys.map((k) => {
    const r = results[k];
    return [
      `${r.name}, rising steps (${p.stepMs / 1000} s each; "kept up" = all accepted, all delivered within ${p.drainTimeoutMs} ms after the step, ≥ 90 % delivered inside the window, p99 ≤ ${p.p99LimitMs} ms):`,
      '',
      table(
        ['pushes/s', 'delivered/s in window', 'REST p50 ms', 'REST p99 ms', 'p50 ms', 'p99 ms', 'max ms', 'CPU-µs/push', 'lost', 'failed', 'busiest generator', 'kept up'],
        r.rising.steps.map((s) => [s.rate, s.windowDeliveriesPerS, s.rest.p50, s.rest.p99, s.latency.p50, s.latency.p99, s.latency.max, s.cpuUsPerPush, s.lost, s.failed.length, `${fmt(s.cpu.clientMaxPct)} %${s.clientBound ? ' !' : ''}`, s.keptUp ? 'yes' : 'no']),
      ),
    ].join('\n');
  });
  const redis = results.herald?.redis;
  const redisLine = !redis
    ? ''
    : redis.skipped
      ? `B-redis: skipped (${redis.skipped}).`
      : `B-redis: ${fmt(redis.rps)} PUBLISH/s on Herald's Redis (${redis.subscribers} subscribers, p99 ${redis.p99} ms; \`${redis.command}\`); Herald ÷ B-redis = ${fmt((results.herald.rising.sustainedRate ?? 0) / redis.rps, 3)} (a Herald push also stores the message and its report).`;
  const missing = keys.some((k) => runs[k].some((r) => r.correctness.missing > 0));
  const perRound =
    rounds === 1
      ? ''
      : [
          `Sustained pushes/s in each round (run order, interleaved): ${keys.map((k) => `${results[k].name} ${runs[k].map((r) => fmt(sustained(r))).join(' / ')}`).join('; ')}.`,
          ...(keys.includes('herald') && keys.includes('b-sio')
            ? [`Herald ÷ B-sio per round: ${runs.herald.map((r, i) => `${fmt(sustained(r) / Math.max(1, sustained(runs['b-sio'][i])), 2)}×`).join(' / ')}; the tables above show each system's median round.`]
            : []),
          `Missing deliveries in each round: ${keys.map((k) => `${results[k].name} ${runs[k].map((r) => r.correctness.missing).join(' / ')}`).join('; ')}.`,
        ].join('\n\n');
  const bound = keys.filter((k) => results[k].fixed.clientBound || results[k].rising.steps.some((s) => s.clientBound)).map((k) => results[k].name);
  const body = [
    main,
    '',
    ...(perRound ? [perRound, ''] : []),
    `CPU per process at ${fmt(p.fixedRate)} pushes/s:`,
    '',
    cpuTable(results, keys, (r) => r.fixed.cpu),
    '',
    ...stepTables.flatMap((t) => [t, '']),
    redisLine,
    bound.length ? `\n**Client-bound (a load generator above 80 % of a core) in some phase of: ${bound.join(', ')} — those figures measure the client side too.**` : '',
    missing
      ? `\n**Missing deliveries: ${keys
          .map((k) => {
            const worst = [...runs[k]].sort((a, b) => b.correctness.missing - a.correctness.missing)[0];
            return `${results[k].name} ${worst.correctness.missing} (e.g. ${JSON.stringify(worst.correctness.examples)})`;
          })
          .join('; ')}**`
      : '',
  ].join('\n');
  return { body, failed: missing };
}
