/*
 * S9 — webservice protocol (seed 001): `POST /send` to one device's user room, with a user room
 * prefix (the reliable per-device queue), devices spread over 2 connectors, at a rising rate.
 * Every device acks every message with the seed's callback. Measures sends/s at saturation, send
 * → receive latency and CPU per message at half of it. Beside a bare socket.io server doing the
 * same job (bench/baselines/b-webservice-server.mjs: adapter, the auth_url handshake, a Redis list
 * per device, LREM on ack, /send on every server process): Herald also orders each device's
 * queue, expands shared rooms cluster-wide, prunes expired devices and keeps ack accounting exact.
 */
import { createServer } from 'node:http';
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

export const id = 's9';
export const title = 'webservice protocol: /send to one device queue, devices on 2 connectors, rising rate';
// `b-sio` is, in this scenario, the bare socket.io webservice server (b-webservice-server.mjs).
export const systems = ['herald', 'b-sio'];

const API_KEY = 'bench-webservice-api-key-0123456789';

export function params(quick) {
  return quick
    ? { devices: 100, connectors: 2, generators: 1, start: 20, factor: 2, max: 160, stepMs: 1500, halfMs: 2000, drainMs: 3000, p99LimitMs: 500, padBytes: 32 }
    : { devices: 1000, connectors: 2, generators: 2, start: 50, factor: 1.25, max: 10_000, stepMs: 5000, halfMs: 20_000, drainMs: 3000, p99LimitMs: 500, padBytes: 64 };
}

export const fdNeeds = (p) => Math.ceil(p.devices / p.generators) + 200;

/** The third-party site: `auth_url` answers token n with `["user_<n>", "staff"]`. */
async function startSite() {
  const server = createServer((req, res) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([`user_${token}`, 'staff']));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/rooms`, stop: () => new Promise((resolve) => server.close(resolve)) };
}

async function startHeraldWebservice(p, site) {
  // The site listens on 127.0.0.1, which tenant callbacks may not reach by default.
  const system = await startHerald({ connectors: p.connectors, logic: 1, env: { HERALD_CALLBACK_ALLOW_PRIVATE: 'true' } });
  try {
    const settings = { auth_url: site.url, api_key: API_KEY, user_room_prefix: 'user_', device_ttl: 3600 };
    const saved = await heraldApi(system, '/api/admin/namespace/save', { body: { key: NAMESPACE, protocol: 'webservice', settings }, authorization: system.adminAuthorization });
    if (saved.status !== 200) throw new Error(`namespace save: ${saved.status} ${JSON.stringify(saved.body)}`);
    // The connectors learn the protocol through the namespace channel.
    await sleep(300);
    return { ...system, socketOrigins: system.urls.map((url) => new URL(url).origin), sendOrigins: system.push.origins };
  } catch (error) {
    await system.stop();
    throw error;
  }
}

async function startBare(p, site) {
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
        await forkChild(`server${i}`, join(REPO_ROOT, 'bench', 'baselines', 'b-webservice-server.mjs'), {
          args: [redis.url, site.url, API_KEY],
          env: { BENCH_PROBE_FILE: join(probeDir, `server${i}.json`) },
          execArgv: ['--expose-gc', '--require', join(REPO_ROOT, 'bench', 'lib', 'probe.cjs')],
        }),
      );
    }
    const { Redis } = require('ioredis');
    const client = new Redis(redis.url);
    const redisPid = Number(/process_id:(\d+)/.exec(await client.info('server'))[1]);
    client.disconnect();
    const origins = children.map((c) => `http://127.0.0.1:${c.info.port}`);
    return {
      key: 'b-sio',
      name: 'B-sio (bare webservice)',
      socketOrigins: origins,
      sendOrigins: origins,
      procs: [...children.map((c) => ({ name: c.name, pid: c.pid, side: 'server', role: 'server' })), { name: 'redis', pid: redisPid, side: 'server', role: 'redis' }],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One step at `rate` sends/s over every generator; "kept up" as in S2. */
async function runStep(gens, procs, { stepId, rate, durationMs, drainMs, p99LimitMs, padBytes }) {
  const meter = new CpuMeter(procs).start();
  const per = rate / gens.length;
  const results = await Promise.all(gens.map((g) => g.call('step', { id: stepId, rate: per, durationMs, drainMs, padBytes })));
  const cpu = meter.stop();
  const sum = (field) => results.reduce((a, r) => a + r[field], 0);
  const rest = summary(merge(results.map((r) => r.restHist)));
  const deliver = summary(merge(results.map((r) => r.deliverHist)));
  const sent = sum('sent');
  const accepted = sum('accepted');
  const received = sum('received');
  const windowMs = Math.max(...results.map((r) => r.windowMs));
  const keptUp = accepted === sent && received >= accepted && (deliver.p99 ?? Infinity) <= p99LimitMs && windowMs <= durationMs * 1.1;
  return { rate, sent, accepted, refused: sum('refused'), received, lost: Math.max(0, accepted - received), stray: sum('stray'), rest, deliver, keptUp, cpu, cpuUsPerMessage: received > 0 ? cpu.serverUs / received : undefined };
}

async function measure(key, p, ctx) {
  const site = await startSite();
  const stopSite = ctx.track(() => site.stop());
  const system = key === 'herald' ? await startHeraldWebservice(p, site) : await startBare(p, site);
  const stopSystem = ctx.track(() => system.stop());
  const gens = [];
  const stopGens = ctx.track(() => Promise.all(gens.map((g) => g.stop())));
  try {
    const per = Math.ceil(p.devices / p.generators);
    for (let g = 0; g < p.generators; g++) {
      const gen = await forkChild(`gen${g}`, join(REPO_ROOT, 'bench', 'generators', 'webservice-clients.mjs'));
      gens.push(gen);
      await gen.call('init', { socketOrigins: system.socketOrigins, sendOrigins: system.sendOrigins, apiKey: API_KEY, firstIndex: g * per, count: Math.min(per, p.devices - g * per) });
    }
    const connected = await Promise.all(gens.map((g) => g.call('connect')));
    ctx.log(`${system.name}: ${connected.reduce((a, c) => a + c.done, 0)} devices connected (${(Math.max(...connected.map((c) => c.elapsedMs)) / 1000).toFixed(1)} s)`);
    const procs = [...system.procs, ...gens.map((g) => ({ name: g.name, pid: g.pid, side: 'client' }))];
    const step = (rate, durationMs, stepId) => runStep(gens, procs, { stepId, rate, durationMs, drainMs: p.drainMs, p99LimitMs: p.p99LimitMs, padBytes: p.padBytes });
    const run = await risingThenHalf(ctx, p, step, (s) => `${s.accepted}/${s.sent} accepted, ${s.received} received, REST p50 ${fmt(s.rest.p50)} / p99 ${fmt(s.rest.p99)} ms, receive p50 ${fmt(s.deliver.p50)} / p99 ${fmt(s.deliver.p99)} ms`);
    return { name: system.name, ...run };
  } finally {
    await ctx.release(stopGens);
    await ctx.release(stopSystem);
    await ctx.release(stopSite);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const results = {};
  for (const key of ctx.systems) results[key] = await measure(key, p, ctx);
  const keys = ctx.systems;
  const main = comparisonTable(results, keys, [
    { label: 'devices / connectors', get: () => `${p.devices} / ${p.connectors}` },
    { label: 'sustained sends/s (last step that kept up)', get: (r) => r.sustained ?? 0, ratio: true, goal: (h, s, x) => (x === undefined ? 'report the ratio' : `${fmt(x, 2)}× of bare`) },
    { label: 'saturated below --max', get: (r) => (r.saturated ? 'yes' : `no (≥ ${p.max}/s)`) },
    { label: 'half-rate phase: sends/s', get: (r) => r.halfRate },
    { label: 'half-rate /send answer p50', get: (r) => r.half.rest.p50, unit: ' ms', ratio: true },
    { label: 'half-rate /send answer p99', get: (r) => r.half.rest.p99, unit: ' ms', ratio: true },
    { label: 'half-rate send → receive p50', get: (r) => r.half.deliver.p50, unit: ' ms', ratio: true },
    { label: 'half-rate send → receive p99', get: (r) => r.half.deliver.p99, unit: ' ms', ratio: true, goal: (h) => (h === undefined ? '≤ 50 ms' : `≤ 50 ms ${check(h <= 50)}`) },
    { label: 'half-rate CPU-µs per message (servers + Redis)', get: (r) => r.half.cpuUsPerMessage, ratio: true },
    { label: 'busiest load generator (half rate)', get: (r) => `${fmt(r.half.cpu.clientMaxPct)} %` },
    { label: 'lost messages (accepted, never received; must be 0)', get: (r) => r.lost, goal: (h) => (h === undefined ? '0' : `0 ${check(h === 0)}`) },
  ]);
  return risingReport(results, keys, p, main, {
    keptUp: `every send accepted and received within ${p.drainMs} ms after the step, receive p99 ≤ ${p.p99LimitMs} ms`,
    columns: ['sends/s', 'sent', 'accepted', 'received', 'REST p99 ms', 'receive p50 ms', 'receive p99 ms', 'CPU-µs/message', 'busiest generator', 'kept up'],
    row: (s) => [s.rate, s.sent, s.accepted, s.received, s.rest.p99, s.deliver.p50, s.deliver.p99, s.cpuUsPerMessage, `${fmt(s.cpu.clientMaxPct)} %`, s.keptUp ? 'yes' : 'no'],
  });
}
