/*
 * S5 — reconnect storm: `clients` Android clients, each with `messages` messages in its inbox,
 * reconnect at the same instant. Measures the time until 99 % of them hold all their messages,
 * and counts duplicates and gaps. Goals: 99 % within 10 s; gaps 0. Herald only (the baselines
 * have no inbox).
 */
import { nowUs, sleep } from '../lib/clock.mjs';
import { merge, summary } from '../lib/hist.mjs';
import { startClients } from '../lib/load.mjs';
import { CpuMeter } from '../lib/procfs.mjs';
import { check, comparisonTable, cpuTable, fmt } from '../lib/report.mjs';
import { heraldApi, startHerald } from '../lib/systems.mjs';

export const id = 's5';
export const title = 'reconnect storm: clients with inbox messages reconnect at once';
export const systems = ['herald'];

export function params(quick) {
  return quick
    ? { clients: 200, messages: 10, connectors: 2, generators: 2, offlineDelayMs: 200, prepareConcurrency: 50, timeoutMs: 30_000 }
    : { clients: 5000, messages: 10, connectors: 2, generators: 2, offlineDelayMs: 200, prepareConcurrency: 200, timeoutMs: 120_000 };
}

export const fdNeeds = (p) => Math.ceil(p.clients / Math.min(p.connectors, p.generators)) + 200;

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const system = await startHerald({ connectors: p.connectors, logic: 1, env: { HERALD_OFFLINE_DELAY_MS: String(p.offlineDelayMs) } });
  const stopSystem = ctx.track(() => system.stop());
  const clients = await startClients(system, { clients: p.clients, generators: p.generators, mode: 'users', uuidPrefix: 'storm', platform: 'android', connectConcurrency: p.prepareConcurrency });
  const stopClients = ctx.track(() => clients.stop());
  let r;
  try {
    const prepared = await clients.all('prepare', { rooms: ['storm'] }, 1_800_000);
    const failedPrepare = prepared.reduce((a, x) => a + x.failed, 0);
    if (failedPrepare) throw new Error(`${failedPrepare} clients could not be prepared: ${JSON.stringify(prepared.map((x) => x.failures))}`);
    ctx.log(`  ${p.clients} Android members of room "storm", now offline (${(Math.max(...prepared.map((x) => x.elapsedMs)) / 1000).toFixed(1)} s)`);
    await sleep(1000);
    const ids = [];
    for (let i = 0; i < p.messages; i++) {
      const push = await heraldApi(system, '/api/auth/push', { body: { room: 'storm', pushData: { storm: i }, leaveMessage: true, expire: 2 } });
      if (push.status !== 200) throw new Error(`push: ${push.status} ${JSON.stringify(push.body)}`);
      ids.push(push.body.id);
    }
    const offline = [];
    for (const id of ids) {
      offline.push(await until(async () => (await heraldApi(system, `/api/auth/report/push/${id}`)).body?.offline ?? undefined, Math.max(60_000, p.clients * 20), `offline step of message ${id}`));
    }
    ctx.log(`  ${p.messages} messages pushed with leaveMessage; offline steps: ${[...new Set(offline)].join(', ')}`);
    await sleep(500);

    const meter = new CpuMeter([...system.procs, ...clients.procs]).start();
    const atUs = nowUs() + 500_000;
    const parts = await clients.all('storm', { atUs, expectIds: ids, timeoutMs: p.timeoutMs }, p.timeoutMs + 60_000);
    const cpu = meter.stop();
    const completion = merge(parts.map((x) => x.completion));
    const connectLatency = merge(parts.map((x) => x.connectLatency));
    const sum = (field) => parts.reduce((a, x) => a + x[field], 0);
    const complete = sum('complete');
    const t99 = complete >= 0.99 * p.clients ? completion.getValueAtPercentile(Math.min(100, (99 * p.clients) / complete)) / 1000 : undefined;
    const acks = await until(
      async () => {
        const reports = await Promise.all(ids.map(async (id) => (await heraldApi(system, `/api/auth/report/push/${id}`)).body));
        return reports.every((x) => x.ackCount >= complete) ? reports : undefined;
      },
      30_000,
      'acks of the replayed messages in the reports',
    ).catch(async () => Promise.all(ids.map(async (id) => (await heraldApi(system, `/api/auth/report/push/${id}`)).body)));
    const errors = parts.reduce((a, x) => {
      for (const [k, v] of Object.entries(x.errors)) a[k] = (a[k] ?? 0) + v;
      return a;
    }, {});
    r = {
      name: 'Herald',
      t99,
      completion: summary(completion),
      connect: summary(connectLatency),
      complete,
      duplicates: sum('duplicates'),
      gaps: sum('gaps'),
      unexpected: sum('unexpected'),
      outOfOrder: sum('outOfOrder'),
      connectErrors: sum('connectErrors'),
      errors,
      cpu,
      offline: [...new Set(offline)].join(', '),
      minAcks: Math.min(...acks.map((x) => x.ackCount)),
    };
    ctx.log(`  storm: ${complete} of ${p.clients} complete; 99 % after ${fmt(t99)} ms; gaps ${r.gaps}, duplicates ${r.duplicates}`);
  } finally {
    await ctx.release(stopClients);
    await ctx.release(stopSystem);
  }
  const body = [
    comparisonTable({ herald: r }, ['herald'], [
      { label: 'clients / messages each / connectors', get: () => `${p.clients} / ${p.messages} / ${p.connectors}` },
      { label: 'offline step results', get: () => r.offline },
      { label: 'clients holding all their messages', get: () => `${r.complete} of ${p.clients}` },
      { label: 'time until 99 % hold all their messages', get: () => r.t99, unit: ' ms', goal: (h) => (h === undefined ? '≤ 10 s ✘ (99 % never reached)' : `≤ 10 s ${check(h <= 10_000)}`) },
      { label: 'completion p50 / p90 / max', get: () => `${fmt(r.completion.p50)} / ${fmt(r.completion.p90)} / ${fmt(r.completion.max)} ms` },
      { label: 'connect (`ok`) p50 / p99 / max', get: () => `${fmt(r.connect.p50)} / ${fmt(r.connect.p99)} / ${fmt(r.connect.max)} ms` },
      { label: 'gaps (messages never received)', get: () => r.gaps, goal: (h) => `0 ${check(h === 0)}` },
      { label: 'duplicates', get: () => r.duplicates },
      { label: 'unexpected messages / out of order', get: () => `${r.unexpected} / ${r.outOfOrder}` },
      { label: 'connect errors', get: () => (r.connectErrors ? `${r.connectErrors} ${JSON.stringify(r.errors)}` : 0) },
      { label: 'fewest acks in a message report (expect = clients)', get: () => r.minAcks },
      { label: 'CPU-µs per client (servers + Redis, storm window)', get: () => r.cpu.serverUs / p.clients },
      { label: 'busiest load generator', get: () => `${fmt(r.cpu.clientMaxPct)} %${r.cpu.clientMaxPct > 80 ? ' client-bound!' : ''}` },
    ]),
    '',
    'CPU per process during the storm:',
    '',
    cpuTable({ herald: r }, ['herald'], (x) => x.cpu),
    '',
    'Completion time of a client = from the storm instant until it holds every one of its messages (from `offlineMessage`, acked at once, or a live `push`).',
  ].join('\n');
  return { body, failed: r.gaps > 0 };
}
