/*
 * S7 — overload: one connector, one logic, one worker; `clients` stock socket.io clients in one
 * room, every client acks every push (ackPush {id}); pushes offered at `rate`/s, above what one
 * connector process can write and count on this machine. Not a throughput figure: what matters is
 * what happens above capacity. Goals: no accepted push lost (every client gets every accepted
 * push, late if need be) and exact reports once quiet (each message's onlineClientCount and
 * ackCount equal the clients that got and acked it, and the acks counted equal the acks sent).
 * Herald only: the baselines have no reports.
 */
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { sleep } from '../lib/clock.mjs';
import { drain, runStep, startClients, startDrivers } from '../lib/load.mjs';
import { check, comparisonTable, cpuTable, fmt, table } from '../lib/report.mjs';
import { NAMESPACE, SYSTEMS } from '../lib/systems.mjs';

const require = createRequire(import.meta.url);
const { Keys } = require('@herald/store');

export const id = 's7';
export const title = 'overload: acking clients above one connector\'s ceiling';
export const systems = ['herald'];

export function params(quick) {
  return quick
    ? { clients: 100, connectors: 1, generators: 1, drivers: 1, connections: 16, padBytes: 64, rate: 20, durationMs: 3000, drainTimeoutMs: 30_000, reportTimeoutMs: 30_000 }
    : { clients: 1000, connectors: 1, generators: 2, drivers: 1, connections: 32, padBytes: 64, rate: 80, durationMs: 30_000, drainTimeoutMs: 300_000, reportTimeoutMs: 300_000 };
}

export const fdNeeds = (p) => p.clients + 200;

/** Every message's report (ids 1 … last): online and ack counts against the room size. */
async function readReports(redis, keys, last, clients) {
  let acks = 0;
  let online = 0;
  let ackWrong = 0;
  let onlineWrong = 0;
  const examples = [];
  for (let from = 1; from <= last; from += 2000) {
    const pipeline = redis.pipeline();
    for (let id = from; id < Math.min(last + 1, from + 2000); id++) pipeline.hmget(keys.message(NAMESPACE, id), 'ackCount', 'onlineClientCount');
    const rows = await pipeline.exec();
    rows.forEach(([, [ack, on]], i) => {
      const a = Number(ack ?? 0);
      const o = Number(on ?? 0);
      acks += a;
      online += o;
      if (a !== clients) ackWrong++;
      if (o !== clients) onlineWrong++;
      if ((a !== clients || o !== clients) && examples.length < 5) examples.push({ id: from + i, ackCount: a, onlineClientCount: o });
    });
  }
  return { acks, online, ackWrong, onlineWrong, examples };
}

/**
 * Redis' own view of the connectors: the id of each named connection (a new id = it reconnected,
 * e.g. after Redis killed a subscriber past `client-output-buffer-limit pubsub`) and the largest
 * output buffer seen.
 */
async function redisView(redis) {
  const list = String(await redis.client('LIST'));
  const ids = {};
  let maxOmem = 0;
  for (const line of list.split('\n')) {
    const name = / name=(\S*)/.exec(line)?.[1];
    const id = / ?id=(\d+)/.exec(line)?.[1];
    const omem = Number(/ omem=(\d+)/.exec(line)?.[1] ?? 0);
    maxOmem = Math.max(maxOmem, omem);
    if (name?.startsWith('herald-connector')) (ids[name] ??= []).push(id);
  }
  return { ids, maxOmem };
}

/** Connector connections whose Redis client id changed between two views (reconnections). */
function reconnected(before, after) {
  return Object.keys(before.ids).filter((name) => JSON.stringify(before.ids[name]) !== JSON.stringify(after.ids[name] ?? []));
}

export async function run(ctx) {
  const p = ctx.params;
  const keys = new Keys('h:');
  const system = await SYSTEMS.herald({ connectors: p.connectors, logic: 1 });
  const stopSystem = ctx.track(() => system.stop());
  const clients = await startClients(system, { clients: p.clients, generators: p.generators, mode: 'room', rooms: ['r1'], ack: true, uuidPrefix: 'ov' });
  const stopClients = ctx.track(() => clients.stop());
  const drivers = await startDrivers(system, { drivers: p.drivers, mode: 'room', room: 'r1', clientsTotal: p.clients, expectAckCount: p.clients, connections: p.connections, padBytes: p.padBytes });
  const stopDrivers = ctx.track(() => drivers.stop());
  const redis = new Redis(system.redis.url);
  let result;
  try {
    const connect = await clients.connect();
    if (connect.failed) throw new Error(`${connect.failed} of ${p.clients} clients could not connect: ${JSON.stringify(connect.failures)}`);
    ctx.log(`Herald: ${connect.done} acking clients in room r1 on ${p.connectors} connector(s) (${(connect.elapsedMs / 1000).toFixed(1)} s)`);
    const procs = [...system.procs, ...clients.procs, ...drivers.procs];
    const before = await redisView(redis);
    let maxOmem = 0;
    const watching = setInterval(() => void redisView(redis).then((v) => (maxOmem = Math.max(maxOmem, v.maxOmem)), () => undefined), 500);
    const step = await runStep({ clients, drivers, procs, rate: p.rate, durationMs: p.durationMs, startN: 0, perPush: p.clients, drainTimeoutMs: p.drainTimeoutMs, p99LimitMs: Infinity });
    clearInterval(watching);
    ctx.log(`  ${p.rate} pushes/s for ${p.durationMs / 1000} s: ${fmt(step.windowDeliveriesPerS)} deliveries/s in the window (offered ${fmt(p.rate * p.clients)}), drained in ${fmt(step.drainMs)} ms, lost ${step.lost}`);
    // Quiet: every delivery that will come has come; the acks it caused must all end in reports.
    const counts = await drain(clients, step.ok * p.clients, 1000);
    const correctness = await clients.finish({ total: step.nextN, failed: step.failed });
    const last = Number((await redis.get(keys.messageSeq(NAMESPACE))) ?? 0);
    const quietStart = Date.now();
    let reports = await readReports(redis, keys, last, p.clients);
    let saidAt = quietStart;
    while ((reports.acks < correctness.acksSent || reports.online < correctness.acksSent) && Date.now() - quietStart < p.reportTimeoutMs) {
      await sleep(250);
      reports = await readReports(redis, keys, last, p.clients);
      if (Date.now() - saidAt >= 10_000) {
        // Still counting or stuck: the figure every 10 s tells which.
        saidAt = Date.now();
        ctx.log(`  ${((saidAt - quietStart) / 1000).toFixed(0)} s quiet: ${fmt(reports.acks)} of ${fmt(correctness.acksSent)} acks counted, online ${fmt(reports.online)}; held by the clients ${JSON.stringify(await clients.outbound())}`);
      }
    }
    const reportsQuietMs = Date.now() - quietStart;
    const after = await redisView(redis);
    // The report path's largest backlog in its summary lines (the valve's bound is HERALD_REPORT_MAX_PENDING).
    const connectorLines = system.logLines(30).filter((l) => l.role === 'connector');
    const maxPending = Math.max(0, ...connectorLines.filter((l) => typeof l.pending === 'number').map((l) => l.pending));
    const problems = {};
    for (const line of system.logLines(40)) {
      const key = `${line.role}: ${line.msg}`;
      problems[key] = (problems[key] ?? 0) + 1;
    }
    if (reports.acks < correctness.acksSent || reports.online < correctness.acksSent) {
      // Inexact: what the connectors' report path said last (state, pending, in flight).
      const said = connectorLines.filter((l) => /report/.test(String(l.msg)));
      for (const line of said.slice(-8)) ctx.log(`  connector said: ${JSON.stringify(line)}`);
      // Did the missing acks reach Redis' ack sets (a counting fault) or not (lost before)? S7's clients are web.
      ctx.log(`  held by the clients, unsent: ${JSON.stringify(await clients.outbound())}`);
      for (const { id, ackCount } of reports.examples) {
        const members = await redis.scard(keys.acks(NAMESPACE, id, 'web'));
        ctx.log(`  message ${id}: ackCount ${ackCount}, clients in its ack set ${members}`);
      }
    }
    result = { name: 'Herald', step, counts, correctness, last, reports, reportsQuietMs, reconnected: reconnected(before, after), maxOmem, maxPending, problems };
  } finally {
    redis.disconnect();
    await ctx.release(stopDrivers);
    await ctx.release(stopClients);
    await ctx.release(stopSystem);
  }
  const r = result;
  const s = r.step;
  const exact = r.reports.acks === r.correctness.acksSent && r.reports.ackWrong === 0 && r.reports.onlineWrong === 0;
  const lostPushes = r.correctness.noneGot.size;
  const body = [
    comparisonTable({ herald: r }, ['herald'], [
      { label: 'clients in the room (all acking) / connectors', get: () => `${p.clients} / ${p.connectors}` },
      { label: 'pushes/s offered for', get: () => `${p.rate} for ${p.durationMs / 1000} s` },
      { label: 'deliveries + acks/s offered', get: () => `${fmt(p.rate * p.clients)} + ${fmt(p.rate * p.clients)}` },
      { label: 'deliveries/s inside the window', get: () => s.windowDeliveriesPerS },
      { label: 'pushes accepted / refused', get: () => `${s.ok} / ${s.failed.length}` },
      { label: 'time to deliver the backlog after the window', get: () => s.drainMs, unit: ' ms' },
      { label: 'push→receive p50 / p99 / max', get: () => `${fmt(s.latency.p50)} / ${fmt(s.latency.p99)} / ${fmt(s.latency.max)} ms` },
      { label: 'REST p99', get: () => s.rest.p99, unit: ' ms' },
      { label: 'lost deliveries (accepted push × client, must be 0)', get: () => r.correctness.missing, goal: (h) => `0 ${check(h === 0)}` },
      { label: 'whole pushes no client got (must be 0)', get: () => lostPushes, goal: (h) => `0 ${check(h === 0)}` },
      { label: 'duplicates / unexpected', get: () => `${r.correctness.duplicates} / ${r.correctness.unexpected}` },
      { label: 'acks sent by clients / counted in reports', get: () => `${r.correctness.acksSent} / ${r.reports.acks}`, goal: () => check(r.correctness.acksSent === r.reports.acks) },
      { label: 'reports with ackCount ≠ clients / onlineClientCount ≠ clients', get: () => `${r.reports.ackWrong} / ${r.reports.onlineWrong} of ${r.last}`, goal: () => `0 / 0 ${check(r.reports.ackWrong === 0 && r.reports.onlineWrong === 0)}` },
      { label: 'reports exact after (from the last delivery)', get: () => r.reportsQuietMs, unit: ' ms' },
      { label: 'client disconnects', get: () => JSON.stringify(r.correctness.disconnects) },
      { label: 'largest report backlog logged (updates waiting)', get: () => r.maxPending },
      { label: 'connector Redis connections that reconnected', get: () => (r.reconnected.length ? r.reconnected.join(', ') : 'none') },
      { label: 'largest Redis output buffer seen (CLIENT LIST omem)', get: () => r.maxOmem, unit: ' B' },
      { label: 'CPU-µs per delivery + its ack (servers + Redis)', get: () => s.cpuUsPerDelivery },
      { label: 'busiest load generator', get: () => `${fmt(s.cpu.clientMaxPct)} %${s.clientBound ? ' client-bound!' : ''}` },
    ]),
    '',
    'CPU per process over the window and the drain:',
    '',
    cpuTable({ herald: r }, ['herald'], (x) => x.step.cpu),
    '',
    Object.keys(r.problems).length
      ? `Warnings and errors logged (by service and message):\n\n${table(['service: message', 'lines'], Object.entries(r.problems).map(([k, v]) => [k, v]))}`
      : 'No warning or error logged by any service.',
    r.reports.examples.length ? `\nInexact reports, e.g. ${JSON.stringify(r.reports.examples)}` : '',
    lostPushes ? `\nWhole pushes lost (n): ${[...r.correctness.noneGot].slice(0, 20).join(', ')}` : '',
  ].join('\n');
  return { body, failed: r.correctness.missing > 0 || !exact };
}
