/*
 * S2 — REST push → one room of `clients` clients spread over 2 connectors, at a rising rate.
 * Measures deliveries/s at saturation, then push→receive latency and CPU per delivery at half of
 * it. Goals: ≥ 0.9 × B-sio deliveries/s; p99 ≤ 50 ms at half the saturation rate.
 */
import { runRedisBenchmark } from '../baselines/b-redis.mjs';
import { sleep } from '../lib/clock.mjs';
import { drain, rise, runStep, startClients, startDrivers } from '../lib/load.mjs';
import { check, comparisonTable, cpuTable, fmt, table } from '../lib/report.mjs';
import { SYSTEMS } from '../lib/systems.mjs';

export const id = 's2';
export const title = 'REST push → one room on 2 connectors, rising rate';
export const systems = ['herald', 'b-sio', 'b-ws'];

export function params(quick) {
  return quick
    ? { clients: 200, connectors: 2, generators: 2, drivers: 1, connections: 16, padBytes: 64, start: 20, factor: 2, max: 400, stepMs: 1500, halfMs: 2000, drainTimeoutMs: 2000, p99LimitMs: 500, finalDrainMs: 5000, redisRequests: 20_000 }
    : { clients: 1000, connectors: 2, generators: 2, drivers: 1, connections: 32, padBytes: 64, start: 10, factor: 1.25, max: 5000, stepMs: 5000, halfMs: 20_000, drainTimeoutMs: 3000, p99LimitMs: 500, finalDrainMs: 30_000, redisRequests: 500_000 };
}

export const fdNeeds = (p) => Math.ceil(p.clients / Math.min(p.connectors, p.generators)) + 200;

async function measure(key, p, ctx) {
  const system = await SYSTEMS[key]({ connectors: p.connectors, logic: 1 });
  const stopSystem = ctx.track(() => system.stop());
  const clients = await startClients(system, { clients: p.clients, generators: p.generators, mode: 'room', rooms: ['r1'], uuidPrefix: 'fan', ack: Boolean(p.acks) });
  const stopClients = ctx.track(() => clients.stop());
  const drivers = await startDrivers(system, { drivers: p.drivers, mode: 'room', room: 'r1', clientsTotal: p.clients, expectAckCount: p.clients, connections: p.connections, padBytes: p.padBytes });
  const stopDrivers = ctx.track(() => drivers.stop());
  try {
    const connect = await clients.connect();
    if (connect.failed) throw new Error(`${system.name}: ${connect.failed} of ${p.clients} clients could not connect: ${JSON.stringify(connect.failures)}`);
    ctx.log(`${system.name}: ${connect.done} clients in room r1 (${(connect.elapsedMs / 1000).toFixed(1)} s)`);
    const procs = [...system.procs, ...clients.procs, ...drivers.procs];
    const failed = [];
    let n = 0;
    let ok = 0;
    const keep = (step) => {
      failed.push(...step.failed);
      ok += step.ok;
      n = step.nextN;
      return step;
    };
    keep(await runStep({ clients, drivers, procs, rate: p.start, durationMs: 1000, startN: n, perPush: p.clients, drainTimeoutMs: p.drainTimeoutMs, p99LimitMs: p.p99LimitMs }));
    await sleep(500);
    const rising = await rise({ clients, drivers, procs, start: p.start, factor: p.factor, max: p.max, durationMs: p.stepMs, perPush: p.clients, startN: n, drainTimeoutMs: p.drainTimeoutMs, p99LimitMs: p.p99LimitMs, log: ctx.log });
    rising.steps.forEach(keep);
    await drain(clients, ok * p.clients, p.finalDrainMs);
    await sleep(1000);
    const halfRate = Math.max(1, Math.round((rising.sustainedRate ?? p.start / 2) / 2));
    const half = keep(await runStep({ clients, drivers, procs, rate: halfRate, durationMs: p.halfMs, startN: n, perPush: p.clients, drainTimeoutMs: p.finalDrainMs, p99LimitMs: p.p99LimitMs }));
    ctx.log(`  half rate ${halfRate}/s: p50 ${half.latency.p50?.toFixed(1)} ms, p99 ${half.latency.p99?.toFixed(1)} ms, ${fmt(half.cpuUsPerDelivery)} CPU-µs/delivery`);
    await drain(clients, ok * p.clients, p.finalDrainMs);
    const correctness = await clients.finish({ total: n, failed });
    const redis = key === 'herald' ? await runRedisBenchmark({ port: system.redis.port, requests: p.redisRequests, payloadBytes: 200, subscribers: p.connectors }) : undefined;
    return { name: system.name, rising, half, halfRate, correctness, pushes: n, accepted: ok, failedPushes: failed.length, redis };
  } finally {
    await ctx.release(stopDrivers);
    await ctx.release(stopClients);
    await ctx.release(stopSystem);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const results = {};
  for (const key of ctx.systems) results[key] = await measure(key, p, ctx);
  const keys = ctx.systems;
  // With acks on (S2a) the issue's goal is 0.7 × B-sio with its bare ack handler; without, 0.9 ×.
  const goal = p.acks ? 0.7 : 0.9;
  const main = comparisonTable(results, keys, [
    { label: 'room size (clients) / connectors', get: () => `${p.clients} / ${p.connectors}` },
    ...(p.acks ? [{ label: 'acks', get: (r) => (r.name === 'Herald' ? 'every client acks every push (ackPush → reports)' : 'every client acks every push (bare handler: a counter)') }] : []),
    { label: 'sustained deliveries/s (last step that kept up)', get: (r) => r.rising.sustainedDeliveries ?? 0, ratio: true, goal: (h, s, x) => (x === undefined ? `≥ ${goal}× B-sio` : `≥ ${goal}× B-sio ${check(x >= goal)}`) },
    { label: 'sustained pushes/s', get: (r) => r.rising.sustainedRate ?? 0, ratio: true },
    { label: 'saturated below --max', get: (r) => (r.rising.saturated ? 'yes' : `no (≥ ${p.max}/s)`) },
    { label: 'peak deliveries/s inside a step', get: (r) => r.rising.peakWindowDeliveries, ratio: true },
    { label: 'half-rate phase: pushes/s', get: (r) => r.halfRate },
    { label: 'half-rate push→receive p50', get: (r) => r.half.latency.p50, unit: ' ms', ratio: true },
    { label: 'half-rate push→receive p99', get: (r) => r.half.latency.p99, unit: ' ms', ratio: true, goal: (h) => (h === undefined ? '≤ 50 ms' : `≤ 50 ms ${check(h <= 50)}`) },
    { label: 'half-rate push→receive p99.9 / max', get: (r) => `${fmt(r.half.latency.p999)} / ${fmt(r.half.latency.max)} ms` },
    { label: 'half-rate REST p99 (from intended send)', get: (r) => r.half.rest.p99, unit: ' ms', ratio: true },
    { label: 'half-rate CPU-µs per delivery (servers + Redis)', get: (r) => r.half.cpuUsPerDelivery, ratio: true },
    { label: 'driver lateness p99 (half rate)', get: (r) => r.half.lateness.p99, unit: ' ms' },
    { label: 'busiest load generator (half rate)', get: (r) => `${fmt(r.half.cpu.clientMaxPct)} %${r.half.clientBound ? ' client-bound!' : ''}` },
    { label: 'pushes sent / accepted', get: (r) => `${r.pushes} / ${r.accepted}` },
    { label: 'missing deliveries (must be 0)', get: (r) => r.correctness.missing, goal: (h) => (h === undefined ? '0' : `0 ${check(h === 0)}`) },
    { label: 'duplicates / unexpected', get: (r) => `${r.correctness.duplicates} / ${r.correctness.unexpected}` },
    { label: 'failed pushes / expectAckCount mismatches', get: (r) => `${r.failedPushes} / ${r.rising.steps.reduce((a, s) => a + s.mismatches, 0) + r.half.mismatches}` },
  ]);
  const stepTables = keys.map((k) => {
    const r = results[k];
    return [
      `${r.name}, rising steps (${p.stepMs / 1000} s each; "kept up" = all accepted, all delivered within ${p.drainTimeoutMs} ms after the step, ≥ 90 % delivered inside the window, p99 ≤ ${p.p99LimitMs} ms):`,
      '',
      table(
        ['pushes/s', 'offered deliveries/s', 'delivered/s in window', 'p50 ms', 'p99 ms', 'max ms', 'REST p99 ms', 'CPU-µs/delivery', 'lost', 'busiest generator', 'kept up'],
        r.rising.steps.map((s) => [s.rate, s.offeredDeliveries, s.windowDeliveriesPerS, s.latency.p50, s.latency.p99, s.latency.max, s.rest.p99, s.cpuUsPerDelivery, s.lost, `${fmt(s.cpu.clientMaxPct)} %${s.clientBound ? ' !' : ''}`, s.keptUp ? 'yes' : 'no']),
      ),
    ].join('\n');
  });
  const redis = results.herald?.redis;
  const redisLine = !redis
    ? ''
    : redis.skipped
      ? `B-redis: skipped (${redis.skipped}).`
      : `B-redis: ${fmt(redis.rps)} PUBLISH/s on Herald's Redis (${redis.subscribers} subscribers, p99 ${redis.p99} ms; \`${redis.command}\`). Each Herald push is one PUBLISH to the connectors.`;
  const missing = keys.some((k) => results[k].correctness.missing > 0);
  const bound = keys.filter((k) => results[k].half.clientBound || results[k].rising.steps.some((s) => s.clientBound)).map((k) => results[k].name);
  const body = [
    main,
    '',
    'CPU per process in the half-rate phase:',
    '',
    cpuTable(results, keys, (r) => r.half.cpu),
    '',
    ...stepTables.flatMap((t) => [t, '']),
    redisLine,
    bound.length ? `\n**Client-bound (a load generator above 80 % of a core) in some phase of: ${bound.join(', ')} — those figures measure the client side too.**` : '',
    missing ? `\n**Missing deliveries: ${keys.map((k) => `${results[k].name} ${results[k].correctness.missing} (e.g. ${JSON.stringify(results[k].correctness.examples)})`).join('; ')}**` : '',
  ].join('\n');
  return { body, failed: missing };
}
