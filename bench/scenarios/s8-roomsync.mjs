/*
 * S8 — roomsync (seed 000): room relay, then sync. `rooms` rooms of `perRoom` seed clients on
 * `/` of `/socket.io`, spread over 2 connectors; each room's first client sends `perRoomRate`
 * msgs/s (one in ten an update) and the others receive them on whichever connector they are
 * (relay latency, deliveries/s, CPU per delivery); then every client syncs its room's whole history
 * at once (pages of 200: time and messages/s). Herald's roomsync protocol beside B-sio roomsync, the
 * seed's logic on a bare socket.io server with the Redis adapter (bench/baselines/b-roomsync-server.mjs).
 * Goals: relay ≥ 0.7 × B-sio deliveries/s at the offered rate with p99 ≤ 50 ms; sync ≥ 0.5 × B-sio.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { nowUs, sleep } from '../lib/clock.mjs';
import { merge, summary } from '../lib/hist.mjs';
import { forkChild } from '../lib/ipc.mjs';
import { CpuMeter } from '../lib/procfs.mjs';
import { check, comparisonTable, cpuTable, fmt, REPO_ROOT } from '../lib/report.mjs';
import { startHerald } from '../lib/systems.mjs';

export const id = 's8';
export const title = 'roomsync: room relay on 2 connectors, then sync of the history';
export const systems = ['herald', 'b-sio'];

export function params(quick) {
  return quick
    ? { rooms: 2, perRoom: 10, connectors: 2, generators: 1, perRoomRate: 50, durationMs: 2000, padBytes: 64, drainTimeoutMs: 5000 }
    : { rooms: 10, perRoom: 20, connectors: 2, generators: 2, perRoomRate: 100, durationMs: 20_000, padBytes: 64, drainTimeoutMs: 10_000 };
}

export const fdNeeds = (p) => p.rooms * p.perRoom + 200;

const NAMESPACE = '/bench-rs';

/** Herald with a roomsync namespace served on `/` of `/socket.io`, tokens not checked (the seed's stress test). */
async function startHeraldRoomsync(p) {
  const system = await startHerald({ connectors: p.connectors, logic: 1, env: { HERALD_SOCKET_PATHS: `/socket.io=${NAMESPACE}`, HERALD_MAX_PAYLOAD_BYTES: '1048576' } });
  const saved = await fetch(`${system.logicOrigin}/api/admin/namespace/save`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: system.adminAuthorization },
    body: JSON.stringify({ key: NAMESPACE, protocol: 'roomsync', settings: { force_user_auth: false, history_max_messages: 1_000_000 } }),
  });
  if (saved.status !== 200) {
    await system.stop();
    throw new Error(`namespace save: ${saved.status} ${await saved.text()}`);
  }
  return { ...system, origins: system.urls.map((url) => new URL(url).origin) };
}

const support = createRequire(import.meta.url)('@herald/test-support');

/** `connectors` bare socket.io roomsync servers on a private Redis. */
async function startBaseline(p) {
  const redis = await support.startRedis();
  const client = new Redis(redis.url);
  const redisPid = Number(/process_id:(\d+)/.exec(await client.info('server'))[1]);
  client.disconnect();
  const servers = [];
  try {
    for (let i = 0; i < p.connectors; i++) servers.push(await forkChild(`server${i}`, join(REPO_ROOT, 'bench', 'baselines', 'b-roomsync-server.mjs'), { args: [redis.url] }));
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    await redis.stop();
    throw error;
  }
  return {
    key: 'b-sio',
    name: 'B-sio roomsync',
    origins: servers.map((s) => `http://127.0.0.1:${s.info.port}`),
    procs: [...servers.map((s) => ({ name: s.name, pid: s.pid, side: 'server', role: 'server' })), { name: 'redis', pid: redisPid, side: 'server', role: 'redis' }],
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      await redis.stop();
    },
  };
}

async function measure(key, p, ctx) {
  const system = key === 'herald' ? await startHeraldRoomsync(p) : await startBaseline(p);
  const stopSystem = ctx.track(() => system.stop());
  const generators = [];
  const stopGenerators = ctx.track(() => Promise.all(generators.map((g) => g.stop())));
  try {
    const perGenerator = Math.ceil(p.rooms / p.generators);
    for (let g = 0; g < p.generators; g++) {
      const rooms = Math.min(perGenerator, p.rooms - g * perGenerator);
      if (rooms <= 0) break;
      const child = await forkChild(`gen${g}`, join(REPO_ROOT, 'bench', 'generators', 'roomsync-clients.mjs'));
      generators.push(child);
      await child.call('init', { urls: system.origins, rooms, firstRoom: g * perGenerator, perRoom: p.perRoom, padBytes: p.padBytes });
    }
    ctx.log(`${system.name}: ${p.rooms} rooms × ${p.perRoom} clients authenticated and joined`);
    const procs = [...system.procs, ...generators.map((g) => ({ name: g.name, pid: g.pid, side: 'client' }))];

    // Relay: every room's sender on one timeline; receivers count and time what they get.
    const expected = Math.round((p.perRoomRate * p.durationMs) / 1000) * p.rooms * (p.perRoom - 1);
    const cpu = new CpuMeter(procs).start();
    const t0 = nowUs() + 200_000;
    const sent = await Promise.all(generators.map((g) => g.call('relay', { perRoomRate: p.perRoomRate, durationMs: p.durationMs, t0, startN: 0 })));
    let states = [];
    const deadline = Date.now() + p.drainTimeoutMs;
    for (;;) {
      states = await Promise.all(generators.map((g) => g.call('received')));
      if (states.reduce((a, s) => a + s.received, 0) >= expected || Date.now() > deadline) break;
      await sleep(50);
    }
    const relayCpu = cpu.stop();
    const received = states.reduce((a, s) => a + s.received, 0);
    const latency = summary(merge(states.map((s) => s.latency)));
    const wallS = relayCpu.wallUs / 1e6;
    const relay = {
      sent: sent.reduce((a, s) => a + s.sent, 0),
      received,
      missing: expected - received,
      deliveriesPerS: received / wallS,
      latency,
      cpuUsPerDelivery: received ? relayCpu.serverUs / received : undefined,
      cpu: relayCpu,
      maxLatenessMs: Math.max(...sent.map((s) => s.maxLatenessMs)),
    };
    ctx.log(`  relay: ${received}/${expected} delivered, p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms`);

    // Sync: every client pages through its room's history, all at once.
    await sleep(500);
    const syncCpu = new CpuMeter(procs).start();
    const syncs = await Promise.all(generators.map((g) => g.call('sync')));
    const syncUsage = syncCpu.stop();
    const messages = syncs.reduce((a, s) => a + s.messages, 0);
    const elapsedMs = Math.max(...syncs.map((s) => s.elapsedMs));
    const sync = { messages, elapsedMs, perS: messages / (elapsedMs / 1000), perClient: summary(merge(syncs.map((s) => s.durations))), cpu: syncUsage };
    ctx.log(`  sync: ${messages} messages in ${fmt(elapsedMs)} ms`);
    return { name: system.name, relay, sync };
  } finally {
    await ctx.release(stopGenerators);
    await ctx.release(stopSystem);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const results = {};
  for (const key of ctx.systems) results[key] = await measure(key, p, ctx);
  const keys = ctx.systems;
  const main = comparisonTable(results, keys, [
    { label: 'rooms × clients / connectors', get: () => `${p.rooms} × ${p.perRoom} / ${p.connectors}` },
    { label: 'offered msgs/s (all rooms) → deliveries/s', get: () => `${p.rooms * p.perRoomRate} → ${p.rooms * p.perRoomRate * (p.perRoom - 1)}` },
    { label: 'relay: deliveries/s', get: (r) => r.relay.deliveriesPerS, ratio: true, goal: (h, s, x) => (x === undefined ? '≥ 0.7× B-sio' : `≥ 0.7× B-sio ${check(x >= 0.7)}`) },
    { label: 'relay: send→receive p50', get: (r) => r.relay.latency.p50, unit: ' ms', ratio: true },
    { label: 'relay: send→receive p99', get: (r) => r.relay.latency.p99, unit: ' ms', ratio: true, goal: (h) => (h === undefined ? '≤ 50 ms' : `≤ 50 ms ${check(h <= 50)}`) },
    { label: 'relay: max', get: (r) => r.relay.latency.max, unit: ' ms' },
    { label: 'relay: CPU-µs per delivery (servers + Redis)', get: (r) => r.relay.cpuUsPerDelivery, ratio: true },
    { label: 'relay: missing deliveries (must be 0)', get: (r) => r.relay.missing, goal: (h) => (h === undefined ? '0' : `0 ${check(h === 0)}`) },
    { label: 'relay: sender lateness max', get: (r) => r.relay.maxLatenessMs, unit: ' ms' },
    { label: 'sync: messages returned (all clients)', get: (r) => r.sync.messages },
    { label: 'sync: messages/s', get: (r) => r.sync.perS, ratio: true, goal: (h, s, x) => (x === undefined ? '≥ 0.5× B-sio' : `≥ 0.5× B-sio ${check(x >= 0.5)}`) },
    { label: 'sync: whole history per client p50 / p99', get: (r) => `${fmt(r.sync.perClient.p50)} / ${fmt(r.sync.perClient.p99)} ms` },
  ]);
  const missing = keys.some((k) => results[k].relay.missing > 0);
  const body = [
    main,
    '',
    'CPU per process in the relay phase:',
    '',
    cpuTable(results, keys, (r) => r.relay.cpu),
    '',
    'CPU per process in the sync phase:',
    '',
    cpuTable(results, keys, (r) => r.sync.cpu),
    missing ? `\n**Missing deliveries: ${keys.map((k) => `${results[k].name} ${results[k].relay.missing}`).join('; ')}**` : '',
  ].join('\n');
  return { body, failed: missing };
}
