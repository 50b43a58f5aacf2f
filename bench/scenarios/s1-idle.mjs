/*
 * S1 — idle clients on one connector: memory per connection and idle CPU.
 * Goal: RSS and heap per connection ≤ 1.3 × B-sio's.
 */
import { sleep } from '../lib/clock.mjs';
import { startClients } from '../lib/load.mjs';
import { CpuMeter, rssBytes } from '../lib/procfs.mjs';
import { check, comparisonTable, fmt, table } from '../lib/report.mjs';
import { probeMemory, redisMemory, SYSTEMS } from '../lib/systems.mjs';

export const id = 's1';
export const title = 'idle clients on one connector: memory per connection, idle CPU';
export const systems = ['herald', 'b-sio', 'b-ws'];

export function params(quick) {
  return quick
    ? { clients: 200, generators: 2, connectConcurrency: 50, settleMs: 1000, idleMs: 3000 }
    : { clients: 10_000, generators: 2, connectConcurrency: 200, settleMs: 5000, idleMs: 30_000 };
}

export const fdNeeds = (p) => p.clients + 200;

const KiB = 1024;

async function measure(key, p, ctx) {
  const system = await SYSTEMS[key]({ connectors: 1, logic: 1 });
  const stopSystem = ctx.track(() => system.stop());
  const server = system.procs.find((x) => x.role === 'connector' || x.role === 'server');
  const clients = await startClients(system, { clients: p.clients, generators: p.generators, mode: 'users', connectConcurrency: p.connectConcurrency, uuidPrefix: 'idle' });
  const stopClients = ctx.track(() => clients.stop());
  try {
    await sleep(500);
    const before = await probeMemory(server);
    const redisBefore = await redisMemory(system.redis.url);
    const connect = await clients.connect();
    if (connect.failed) ctx.log(`  ${system.name}: ${connect.failed} connections failed: ${JSON.stringify(connect.failures)}`);
    await sleep(p.settleMs);
    const after = await probeMemory(server);
    const redisAfter = await redisMemory(system.redis.url);
    const meter = new CpuMeter([...system.procs, ...clients.procs]).start();
    await sleep(p.idleMs);
    const cpu = meter.stop();
    // Again after the idle phase: by then V8 has shrunk what it kept from the connect burst
    // (its memory reducer runs some seconds after allocation stops), so this is the idle state.
    const idle = await probeMemory(server);
    const counts = await clients.counts();
    const n = connect.done;
    const result = {
      name: system.name,
      connected: n,
      failed: connect.failed,
      connectS: connect.elapsedMs / 1000,
      rssPerConn: n ? (after.rss - before.rss) / n : undefined,
      rssIdlePerConn: n ? (idle.rss - before.rss) / n : undefined,
      heapTotalIdlePerConn: n ? (idle.heapTotal - before.heapTotal) / n : undefined,
      heapPerConn: n ? (after.heapUsed - before.heapUsed) / n : undefined,
      // Committed heap (used + free pages V8 keeps): the part of RSS that churn during the connect
      // burst leaves behind, as opposed to what the connections hold.
      heapTotalPerConn: n ? (after.heapTotal - before.heapTotal) / n : undefined,
      externalPerConn: n ? (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / n : undefined,
      redisPerConn: n ? (redisAfter - redisBefore) / n : undefined,
      rssTotal: rssBytes(server.pid),
      serverCpuPct: cpu.rows.find((r) => r.pid === server.pid)?.pct,
      allServerCpuPct: (100 * cpu.serverUs) / cpu.wallUs,
      cpuRows: cpu.rows,
      disconnects: Object.values(counts.disconnects).reduce((a, b) => a + b, 0),
      // Per V8 heap space: committed / used bytes per connection (after − before).
      spaces: Object.fromEntries(
        Object.keys(after.spaces ?? {}).map((name) => [
          name,
          n ? { committed: (after.spaces[name].committed - (before.spaces?.[name]?.committed ?? 0)) / n, used: (after.spaces[name].used - (before.spaces?.[name]?.used ?? 0)) / n } : undefined,
        ]),
      ),
    };
    ctx.log(`  ${system.name}: V8 heap spaces per connection, committed/used KiB: ${Object.entries(result.spaces).map(([k, v]) => `${k} ${fmt(v.committed / KiB)}/${fmt(v.used / KiB)}`).join(', ')}`);
    ctx.log(`  ${system.name}: ${n} connected in ${result.connectS.toFixed(1)} s; RSS/conn ${fmt(result.rssPerConn / KiB)} KiB, heap/conn ${fmt(result.heapPerConn / KiB)} KiB; idle CPU ${fmt(result.serverCpuPct)} %`);
    return result;
  } finally {
    await ctx.release(stopClients);
    await ctx.release(stopSystem);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const results = {};
  for (const key of ctx.systems) results[key] = await measure(key, p, ctx);
  const cols = ctx.systems;
  const perConn = (label, get) => ({
    label,
    get,
    unit: ' KiB',
    ratio: true,
    goal: (h, b, x) => (x === undefined ? '≤ 1.3× B-sio' : `≤ 1.3× B-sio ${check(x <= 1.3)}`),
  });
  const main = comparisonTable(results, cols, [
    { label: 'connections open', get: (r) => r.connected },
    { label: 'failed connections', get: (r) => r.failed, goal: (h) => (h === undefined ? '' : `0 ${check(h === 0)}`) },
    { label: 'connect time', get: (r) => r.connectS, unit: ' s', ratio: true },
    perConn('RSS per connection', (r) => r.rssPerConn / KiB),
    perConn('JS heap per connection (after GC)', (r) => r.heapPerConn / KiB),
    { label: 'JS heap committed per connection (used + free pages kept)', get: (r) => r.heapTotalPerConn / KiB, unit: ' KiB' },
    { label: 'RSS per connection after the idle phase', get: (r) => r.rssIdlePerConn / KiB, unit: ' KiB', ratio: true },
    { label: 'JS heap committed per connection after the idle phase', get: (r) => r.heapTotalIdlePerConn / KiB, unit: ' KiB', ratio: true },
    { label: 'external + ArrayBuffers per connection', get: (r) => r.externalPerConn / KiB, unit: ' KiB' },
    { label: 'Redis memory per connection', get: (r) => r.redisPerConn / KiB, unit: ' KiB' },
    { label: 'server RSS, total', get: (r) => r.rssTotal / 2 ** 20, unit: ' MiB', ratio: true },
    { label: 'idle CPU, connector/server process', get: (r) => r.serverCpuPct, unit: ' %', ratio: true },
    { label: 'idle CPU, all server processes + Redis', get: (r) => r.allServerCpuPct, unit: ' %', ratio: true },
    { label: 'unexpected disconnects', get: (r) => r.disconnects },
  ]);
  const breakdown = table(
    ['process', ...cols.map((k) => results[k].name)],
    [...new Set(cols.flatMap((k) => results[k].cpuRows.map((r) => r.name)))].map((name) => [
      name,
      ...cols.map((k) => {
        const r = results[k].cpuRows.find((x) => x.name === name);
        return r ? `${fmt(r.pct)} %` : '—';
      }),
    ]),
  );
  const failed = cols.some((k) => results[k].failed > 0 || results[k].disconnects > 0);
  const body = [
    main,
    '',
    `Idle CPU per process over ${p.idleMs / 1000} s (100 % = one core):`,
    '',
    breakdown,
    '',
    'Per connection = (after − before) / connections, on the connector (Herald) or the one server (baselines); memory read after two full GCs. Herald also keeps each client in Redis (identity, rooms, presence); the baselines keep nothing there.',
    failed ? '\n**Some connections failed or dropped: see the counts above.**' : '',
  ].join('\n');
  return { body, failed };
}
