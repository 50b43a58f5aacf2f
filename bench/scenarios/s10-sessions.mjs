/*
 * S10 — the sessions protocol (seed 003): `clients` seed clients on 2 connectors authenticate with
 * their sessions (`users` users, several sockets each), then the application publishes
 * `{users:[u], data}` on `notifications` at fixed rising rates; then `rebinds` sessions are moved
 * to another user at once. Beside B-sessions: seed 003's server on socket.io 4, one process per
 * connector, each subscribing to the channel and emitting to its local sockets (the seed's own way
 * of running several nodes). Measures deliveries/s, publish→receive latency, CPU per delivery and
 * the time until moved sessions receive as their new user. The clients run in the bench process.
 */
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { sleep } from '../lib/clock.mjs';
import { forkChild } from '../lib/ipc.mjs';
import { CpuMeter } from '../lib/procfs.mjs';
import { fmt, ratio, table } from '../lib/report.mjs';
import { heraldApi, startHerald } from '../lib/systems.mjs';
import { newHistogram, summary } from '../lib/hist.mjs';

const require = createRequire(import.meta.url);
const support = require('@herald/test-support');

export const id = 's10';
export const title = 'sessions protocol (seed 003): notifications to users on 2 connectors, session re-binding';
export const systems = ['herald', 'b-sessions'];

export function params(quick) {
  return quick
    ? { clients: 200, users: 50, connectors: 2, rates: [100, 400], stepMs: 2000, drainMs: 2000, rebinds: 50 }
    : { clients: 2000, users: 500, connectors: 2, rates: [250, 500, 1000, 2000, 4000], stepMs: 5000, drainMs: 3000, rebinds: 500 };
}

export const fdNeeds = (p) => 2 * p.clients + 200;

const NAMESPACE = '/sessions';

async function startSystem(key, p) {
  if (key === 'herald') {
    const system = await startHerald({ connectors: p.connectors, logic: 1, env: { HERALD_SOCKET_PATHS: `/socket.io,/socket=${NAMESPACE}` } });
    const saved = await heraldApi(system, '/api/admin/namespace/save', { authorization: system.adminAuthorization, body: { key: NAMESPACE, auth_passwd: 'bench-pw', protocol: 'sessions' } });
    if (saved.status !== 200) {
      await system.stop();
      throw new Error(`namespace save: ${saved.status} ${JSON.stringify(saved.body)}`);
    }
    return { name: 'Herald', origins: system.urls.map((u) => new URL(u).origin), redisUrl: system.redis.url, procs: system.procs, stop: system.stop };
  }
  const redis = await support.startRedis();
  const servers = [];
  try {
    for (let i = 0; i < p.connectors; i++) servers.push(await forkChild(`server${i}`, new URL('../baselines/b-sessions-server.mjs', import.meta.url).pathname, { args: [redis.url] }));
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    await redis.stop();
    throw error;
  }
  const client = new Redis(redis.url);
  const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))[1]);
  client.disconnect();
  return {
    name: 'B-sessions',
    origins: servers.map((s) => `http://127.0.0.1:${s.info.port}`),
    redisUrl: redis.url,
    procs: [...servers.map((s) => ({ name: s.name, pid: s.pid, side: 'server' })), { name: 'redis', pid, side: 'server' }],
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await redis.stop();
    },
  };
}

async function measure(key, p, ctx) {
  const system = await startSystem(key, p);
  const stopSystem = ctx.track(() => system.stop());
  const app = new Redis(system.redisUrl);
  const sockets = [];
  const stopClients = ctx.track(async () => {
    for (const s of sockets) s.close();
    app.disconnect();
  });
  try {
    const userOf = (i) => `u${i % p.users}`;
    const pipeline = app.pipeline();
    for (let i = 0; i < p.clients; i++) pipeline.set(`session-store-s${i}`, userOf(i));
    await pipeline.exec();

    // Per client: what it received (n → count), for latency, losses and duplicates.
    let histogram = newHistogram();
    const received = Array.from({ length: p.clients }, () => new Map());
    const probes = Array.from({ length: p.clients }, () => new Set());
    let deliveries = 0;
    for (let i = 0; i < p.clients; i++) {
      const socket = io(system.origins[i % system.origins.length], { path: '/socket', transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(socket);
      socket.on('connect', () => socket.emit('authenticate', { sessionId: `s${i}` }));
      socket.on('message', (data) => {
        if (data?.probe !== undefined) return void probes[i].add(data.probe);
        if (data?.n === undefined) return;
        deliveries++;
        received[i].set(data.n, (received[i].get(data.n) ?? 0) + 1);
        histogram.recordValue(Math.max(1, Math.round((Date.now() - data.t) * 1000)));
      });
    }
    // Ready: every client gets a probe sent to its user.
    const allUsers = Array.from({ length: p.users }, (_, i) => `u${i}`);
    const ready = async (users, expected, timeoutMs) => {
      const started = Date.now();
      for (let probe = 0; Date.now() - started < timeoutMs; probe++) {
        await app.publish('notifications', JSON.stringify({ users, data: { probe } }));
        await sleep(100);
        if (expected.every((i) => probes[i].has(probe))) return Date.now() - started;
      }
      throw new Error(`${system.name}: clients not all bound within ${timeoutMs} ms`);
    };
    await ready(allUsers, received.map((_, i) => i), 30_000);
    ctx.log(`${system.name}: ${p.clients} clients bound (${p.users} users) on ${system.origins.length} servers`);

    const perMessage = p.clients / p.users;
    let n = 0;
    const steps = [];
    for (const rate of p.rates) {
      histogram = newHistogram();
      const first = n;
      const count = Math.round((rate * p.stepMs) / 1000);
      const before = deliveries;
      const meter = new CpuMeter(system.procs).start();
      const started = Date.now();
      for (let k = 0; k < count; k++) {
        const due = started + (k * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 1) await sleep(wait);
        const message = { users: [`u${n % p.users}`], data: { n, t: Date.now() } };
        n++;
        void app.publish('notifications', JSON.stringify(message));
      }
      const expected = count * perMessage;
      const drainStart = Date.now();
      while (deliveries - before < expected && Date.now() - drainStart < p.drainMs) await sleep(20);
      const cpu = meter.stop();
      const elapsedS = (Date.now() - started) / 1000;
      let missing = 0;
      let duplicates = 0;
      for (let i = 0; i < p.clients; i++) {
        for (let m = first; m < n; m++) {
          if (`u${m % p.users}` !== userOf(i)) continue;
          const got = received[i].get(m) ?? 0;
          if (got === 0) missing++;
          if (got > 1) duplicates += got - 1;
        }
      }
      const got = deliveries - before;
      const latency = summary(histogram);
      const step = { rate, expected, delivered: got, perS: got / elapsedS, latency, missing, duplicates, cpuUsPerDelivery: got ? cpu.serverUs / got : undefined, keptUp: missing === 0 && (latency.p99 ?? Infinity) <= 500 };
      steps.push(step);
      ctx.log(`  ${rate}/s: ${fmt(step.perS)} deliveries/s, p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms, missing ${missing}, ${fmt(step.cpuUsPerDelivery)} CPU-µs/delivery`);
      await sleep(500);
    }

    // Re-binding: `rebinds` sessions move to user `moved` at once; time until all receive as it.
    const moved = Array.from({ length: Math.min(p.rebinds, p.clients) }, (_, i) => i);
    const move = app.pipeline();
    for (const i of moved) move.set(`session-store-s${i}`, 'moved');
    const rebindStarted = Date.now();
    await move.exec();
    await ready(['moved'], moved, 30_000);
    const rebindMs = Date.now() - rebindStarted;
    ctx.log(`  ${moved.length} sessions re-bound in ≤ ${fmt(rebindMs)} ms`);
    const best = [...steps].reverse().find((s) => s.keptUp);
    return { name: system.name, steps, best, rebindMs, rebinds: moved.length, missing: steps.reduce((a, s) => a + s.missing, 0), duplicates: steps.reduce((a, s) => a + s.duplicates, 0) };
  } finally {
    await ctx.release(stopClients);
    await ctx.release(stopSystem);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const results = {};
  for (const key of ctx.systems) results[key] = await measure(key, p, ctx);
  const keys = ctx.systems;
  const h = results.herald;
  const b = results['b-sessions'];
  const row = (label, get, unit = '', withRatio = true) => [
    label,
    ...keys.map((k) => {
      const v = get(results[k]);
      return v === undefined ? '—' : `${fmt(v)}${unit}`;
    }),
    withRatio && h && b && ratio(get(h), get(b)) !== undefined ? `${fmt(ratio(get(h), get(b)), 2)}×` : '',
  ];
  const main = table(
    ['', ...keys.map((k) => results[k].name), 'Herald ÷ B-sessions'],
    [
      row('clients / users / servers', () => `${p.clients} / ${p.users} / ${p.connectors}`, '', false),
      row('highest rate kept up (notifications/s)', (r) => r.best?.rate),
      row('deliveries/s at that rate', (r) => r.best?.perS),
      row('publish→receive p50 at that rate', (r) => r.best?.latency.p50, ' ms'),
      row('publish→receive p99 at that rate', (r) => r.best?.latency.p99, ' ms'),
      row('CPU-µs per delivery at that rate (servers + Redis)', (r) => r.best?.cpuUsPerDelivery),
      row(`${p.rebinds} sessions moved to another user: all receiving as it after (probed every 100 ms)`, (r) => r.rebindMs, ' ms'),
      row('missing deliveries (must be 0) / duplicates', (r) => `${r.missing} / ${r.duplicates}`, '', false),
    ],
  );
  const stepTables = keys.map((k) =>
    [
      `${results[k].name}, steps (${p.stepMs / 1000} s each; "kept up" = nothing missing after ${p.drainMs} ms, p99 ≤ 500 ms):`,
      '',
      table(
        ['notifications/s', 'expected deliveries', 'delivered', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms', 'CPU-µs/delivery', 'missing', 'kept up'],
        results[k].steps.map((s) => [s.rate, s.expected, s.delivered, s.perS, s.latency.p50, s.latency.p99, s.latency.max, s.cpuUsPerDelivery, s.missing, s.keptUp ? 'yes' : 'no']),
      ),
    ].join('\n'),
  );
  const failed = keys.some((k) => results[k].duplicates > 0);
  return { body: [main, '', ...stepTables.flatMap((t) => [t, '']), 'The clients run in the bench process: at the higher rates their CPU limits both systems alike.'].join('\n'), failed };
}
