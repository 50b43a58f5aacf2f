/*
 * S4 — offline iOS deliveries to APNs: `devices` offline iOS members of one room, one push with
 * leaveMessage; the offline step hands them to the worker's APNs queue, which sends them to the
 * APNs mock (HTTP/2 over TLS, provider token checked per request), once with 0 ms and once with
 * 20 ms simulated round trip. Measures time to drain, notifications/s and CPU-µs per
 * notification. Baseline B-apns: @parse/node-apn alone sending the same number to the same mock.
 * Goal: ≥ 0.7 × B-apns notifications/s.
 */
import { join } from 'node:path';
import { sleep } from '../lib/clock.mjs';
import { forkChild } from '../lib/ipc.mjs';
import { startClients } from '../lib/load.mjs';
import { CpuMeter } from '../lib/procfs.mjs';
import { check, fmt, ratio, REPO_ROOT, table } from '../lib/report.mjs';
import { heraldApi, startHerald } from '../lib/systems.mjs';

export const id = 's4';
export const title = 'offline iOS deliveries → APNs mock (0 ms and 20 ms RTT)';
export const systems = ['herald'];

const TOPIC = 'com.herald.bench';
const BASELINES = join(REPO_ROOT, 'bench', 'baselines');

export function params(quick) {
  return quick
    ? { devices: 300, rtts: '0,20', generators: 2, offlineDelayMs: 200, prepareConcurrency: 50, apnsConcurrency: 16, timeoutMs: 60_000 }
    : { devices: 100_000, rtts: '0,20', generators: 2, offlineDelayMs: 200, prepareConcurrency: 200, apnsConcurrency: 16, timeoutMs: 900_000 };
}

export const fdNeeds = () => 1024;

async function startMock(rtt, ctx) {
  const mock = await forkChild(`apns-mock-${rtt}ms`, join(BASELINES, 'apns-mock.mjs'), { args: [String(rtt)] });
  const stop = ctx.track(() => mock.stop());
  return { mock, stop };
}

/** Polls the mock until it saw `count` distinct device tokens (or the timeout). */
async function waitForDevices(mock, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let stats = await mock.call('stats');
  while (stats.distinct < count && Date.now() < deadline) {
    await sleep(250);
    stats = await mock.call('stats');
  }
  return stats;
}

async function heraldPhase(system, rtt, p, ctx, index) {
  const { mock, stop } = await startMock(rtt, ctx);
  const key = mock.info.providerKey;
  const saved = await heraldApi(system, '/api/admin/namespace/save', {
    authorization: system.adminAuthorization,
    body: { key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] },
  });
  if (saved.status !== 200) throw new Error(`APNs configuration: ${saved.status} ${JSON.stringify(saved.body)}`);
  const worker = await system.addService('worker', index + 1, {
    HERALD_APNS_HOST: '127.0.0.1',
    HERALD_APNS_PORT: String(mock.info.port),
    HERALD_APNS_CA: mock.info.caFile,
    HERALD_APNS_CONCURRENCY: String(p.apnsConcurrency),
  });
  const stopWorker = ctx.track(() => worker.stop());
  try {
    await sleep(1000);
    const meter = new CpuMeter([...system.procs.filter((x) => x.role !== 'worker'), worker, { name: 'APNs mock (not counted)', pid: mock.pid, side: 'mock' }]).start();
    const push = await heraldApi(system, '/api/auth/push', { body: { room: 'ios', pushData: { text: `drain ${rtt} ms` }, leaveMessage: true } });
    const pushedAt = Date.now();
    if (push.status !== 200) throw new Error(`push: ${push.status} ${JSON.stringify(push.body)}`);
    const stats = await waitForDevices(mock, p.devices, p.timeoutMs);
    const cpu = meter.stop();
    let report = (await heraldApi(system, `/api/auth/report/push/${push.body.id}`)).body;
    for (let i = 0; i < 40 && report.apnsCount < stats.requests; i++) {
      await sleep(250);
      report = (await heraldApi(system, `/api/auth/report/push/${push.body.id}`)).body;
    }
    const startAt = pushedAt + p.offlineDelayMs;
    // The mock stamps a request when its headers arrive and answers `rtt` ms later.
    const drainS = stats.lastAt !== undefined ? (stats.lastAt + rtt - startAt) / 1000 : undefined;
    const result = {
      drainS,
      perS: drainS ? stats.distinct / drainS : undefined,
      firstRequestAfterMs: stats.firstAt !== undefined ? stats.firstAt - startAt : undefined,
      cpuUsPer: stats.distinct ? cpu.serverUs / stats.distinct : undefined,
      cpu,
      distinct: stats.distinct,
      requests: stats.requests,
      statuses: stats.statuses,
      report: { apnsCount: report.apnsCount, apnsSuccessCount: report.apnsSuccessCount, offline: report.offline, result: report.result },
    };
    ctx.log(`  Herald, ${rtt} ms RTT: ${stats.distinct} devices in ${fmt(drainS)} s (${fmt(result.perS)}/s), ${fmt(result.cpuUsPer)} CPU-µs each`);
    return result;
  } finally {
    await ctx.release(stopWorker);
    await ctx.release(stop);
  }
}

async function baselinePhase(rtt, p, ctx) {
  const { mock, stop } = await startMock(rtt, ctx);
  const sender = await forkChild('b-apns', join(BASELINES, 'b-apns.mjs'));
  const stopSender = ctx.track(() => sender.stop());
  try {
    const sent = await sender.call('send', {
      port: mock.info.port,
      caFile: mock.info.caFile,
      providerKey: mock.info.providerKey,
      topic: TOPIC,
      count: p.devices,
      batch: 100,
      concurrency: p.apnsConcurrency,
      payload: { aps: { alert: '通知' } },
    }, p.timeoutMs);
    const stats = await waitForDevices(mock, p.devices, 5000);
    const drainS = sent.elapsedUs / 1e6;
    const result = { drainS, perS: stats.distinct / drainS, cpuUsPer: sent.cpuUs / Math.max(1, stats.distinct), distinct: stats.distinct, requests: stats.requests, statuses: stats.statuses, failed: sent.failed };
    ctx.log(`  B-apns, ${rtt} ms RTT: ${stats.distinct} devices in ${fmt(drainS)} s (${fmt(result.perS)}/s), ${fmt(result.cpuUsPer)} CPU-µs each`);
    return result;
  } finally {
    await ctx.release(stopSender);
    await ctx.release(stop);
  }
}

export async function run(ctx) {
  const p = ctx.params;
  const rtts = String(p.rtts).split(',').map(Number);
  const system = await startHerald({ connectors: 1, logic: 1, worker: false, env: { HERALD_OFFLINE_DELAY_MS: String(p.offlineDelayMs) } });
  const stopSystem = ctx.track(() => system.stop());
  const rows = [];
  let setupS;
  try {
    const clients = await startClients(system, { clients: p.devices, generators: p.generators, mode: 'users', uuidPrefix: 'ios', platform: 'ios', connectConcurrency: p.prepareConcurrency });
    const stopClients = ctx.track(() => clients.stop());
    const prepared = await clients.all('prepare', { rooms: ['ios'], withDeviceToken: true }, 3_600_000);
    await ctx.release(stopClients);
    const failed = prepared.reduce((a, x) => a + x.failed, 0);
    if (failed) throw new Error(`${failed} devices could not be prepared: ${JSON.stringify(prepared.map((x) => x.failures))}`);
    setupS = Math.max(...prepared.map((x) => x.elapsedMs)) / 1000;
    ctx.log(`  ${p.devices} offline iOS devices with tokens in room "ios" (${setupS.toFixed(1)} s)`);
    for (const [index, rtt] of rtts.entries()) {
      const herald = await heraldPhase(system, rtt, p, ctx, index);
      const base = await baselinePhase(rtt, p, ctx);
      rows.push({ rtt, herald, base });
    }
  } finally {
    await ctx.release(stopSystem);
  }
  const gaps = rows.some((r) => r.herald.distinct !== p.devices || r.base.distinct !== p.devices);
  const dupes = (x) => x.requests - x.distinct;
  const body = [
    table(
      ['RTT', 'system', 'devices reached', 'duplicates', 'time to drain', 'notifications/s', 'Herald ÷ B-apns', 'goal', 'CPU-µs per notification', 'APNs answers', 'report'],
      rows.flatMap((r) => {
        const x = ratio(r.herald.perS, r.base.perS);
        return [
          [`${r.rtt} ms`, 'Herald', `${r.herald.distinct} of ${p.devices}`, dupes(r.herald), `${fmt(r.herald.drainS)} s`, r.herald.perS, x === undefined ? '' : `${fmt(x, 2)}×`, x === undefined ? '' : `≥ 0.7× ${check(x >= 0.7)}`, r.herald.cpuUsPer, JSON.stringify(r.herald.statuses), `apnsSuccessCount ${r.herald.report.apnsSuccessCount}, offline "${r.herald.report.offline}"`],
          [`${r.rtt} ms`, 'B-apns', `${r.base.distinct} of ${p.devices}`, dupes(r.base), `${fmt(r.base.drainS)} s`, r.base.perS, '', '', r.base.cpuUsPer, JSON.stringify(r.base.statuses), ''],
        ];
      }),
    ),
    '',
    'CPU per process while Herald drained (CPU-µs per notification counts the services and Redis, not the mock):',
    '',
    table(
      ['process (CPU, 100 % = one core)', ...rows.map((r) => `${r.rtt} ms RTT`)],
      [...new Set(rows.flatMap((r) => r.herald.cpu.rows.map((c) => c.name)))].map((name) => [name, ...rows.map((r) => {
        const row = r.herald.cpu.rows.find((c) => c.name === name);
        return row ? `${fmt(row.pct)} %` : '—';
      })]),
    ),
    '',
    `Herald's time to drain runs from when the offline step is due (push + HERALD_OFFLINE_DELAY_MS = ${p.offlineDelayMs} ms) to the last answer of the mock (last request + RTT); it includes the offline step (paging the room's members), the APNs jobs (${p.apnsConcurrency} at once, 100 devices each) and the per-device outcome records. B-apns sends the same ${p.devices} notifications with the same provider options, 100 tokens per send, ${p.apnsConcurrency} sends in flight; its time runs from its first send to its last answer. Setup (connecting each device once to register its token) took ${fmt(setupS)} s and is not measured.`,
    gaps ? '\n**Not every device was reached: see "devices reached".**' : '',
  ].join('\n');
  return { body, failed: gaps };
}
