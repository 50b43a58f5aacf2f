import { join } from 'node:path';
import { nowUs, sleep, sleepUntil } from './clock.mjs';
import { merge, summary } from './hist.mjs';
import { forkChild } from './ipc.mjs';
import { CpuMeter } from './procfs.mjs';
import { REPO_ROOT } from './report.mjs';

/*
 * Groups of load-generator processes and the step runner shared by the throughput scenarios.
 */

const GENERATORS = join(REPO_ROOT, 'bench', 'generators');

const sumInto = (target, source) => {
  for (const [k, v] of Object.entries(source ?? {})) target[k] = (target[k] ?? 0) + v;
  return target;
};

/**
 * `clients` clients of `system` spread over `generators` processes (socket.io clients for Herald
 * and B-sio, raw ws for B-ws). Client i connects to system.urls[i % urls.length].
 */
export async function startClients(system, { clients, generators, mode, rooms = [], ack = false, sampleAckEvery = 0, connectConcurrency = 100, uuidPrefix = 'c', platform = 'web' }) {
  const script = join(GENERATORS, system.clientKind === 'ws' ? 'ws-clients.mjs' : 'sio-clients.mjs');
  const count = Math.min(generators, clients);
  const gens = await Promise.all(Array.from({ length: count }, (_, g) => forkChild(`clients${g}`, script)));
  const group = {
    gens,
    procs: gens.map((g) => ({ name: g.name, pid: g.pid, side: 'client' })),
    all: (cmd, args, timeoutMs) => Promise.all(gens.map((g) => g.call(cmd, typeof args === 'function' ? args(g) : args, timeoutMs))),
    async counts() {
      const parts = await group.all('counts');
      return parts.reduce(
        (a, p) => ({
          unique: a.unique + p.unique,
          duplicates: a.duplicates + p.duplicates,
          unexpected: a.unexpected + p.unexpected,
          acksSent: a.acksSent + p.acksSent,
          lastAt: Math.max(a.lastAt, p.lastAt),
          disconnects: sumInto(a.disconnects, p.disconnects),
        }),
        { unique: 0, duplicates: 0, unexpected: 0, acksSent: 0, lastAt: 0, disconnects: {} },
      );
    },
    /** What the clients hold unsent (socket.io clients only; sio-clients.mjs `outbound`). */
    async outbound() {
      const parts = await group.all('outbound');
      return parts.reduce((a, p) => Object.fromEntries(Object.keys(p).map((k) => [k, (a[k] ?? 0) + p[k]])), {});
    },
    /** Counts and the latency histogram since the previous snapshot. */
    async snapshot() {
      const parts = await group.all('snapshot');
      return { histogram: merge(parts.map((p) => p.histogram)), duplicates: parts.reduce((a, p) => a + p.duplicates, 0) };
    },
    async finish(args) {
      const parts = await group.all('finish', args);
      return {
        expected: parts.reduce((a, p) => a + p.expected, 0),
        missing: parts.reduce((a, p) => a + p.missing, 0),
        duplicates: parts.reduce((a, p) => a + p.duplicates, 0),
        unexpected: parts.reduce((a, p) => a + p.unexpected, 0),
        examples: parts.flatMap((p) => p.examples).slice(0, 5),
        // Room mode: pushes no client of any generator got.
        noneGot: parts.map((p) => new Set(p.noneGot ?? [])).reduce((a, b) => new Set([...a].filter((n) => b.has(n)))),
        ackSamples: parts.flatMap((p) => p.ackSamples),
        acksSent: parts.reduce((a, p) => a + p.acksSent, 0),
        disconnects: parts.reduce((a, p) => sumInto(a, p.disconnects), {}),
      };
    },
    async connect() {
      const parts = await group.all('connect', {}, 1_800_000);
      return {
        done: parts.reduce((a, p) => a + p.done, 0),
        failed: parts.reduce((a, p) => a + p.failed, 0),
        failures: parts.reduce((a, p) => sumInto(a, p.failures), {}),
        elapsedMs: Math.max(...parts.map((p) => p.elapsedMs)),
      };
    },
    close: () => group.all('close'),
    stop: () => Promise.all(gens.map((g) => g.stop())),
  };
  await group.all('init', (g) => {
    const index = gens.indexOf(g);
    const first = Math.floor((index * clients) / count);
    const next = Math.floor(((index + 1) * clients) / count);
    return { urls: system.urls, firstIndex: first, count: next - first, clientsTotal: clients, mode, rooms, ack, sampleAckEvery, connectConcurrency, uuidPrefix, platform };
  });
  return group;
}

/** `drivers` HTTP push driver processes sharing one absolute timeline. */
export async function startDrivers(system, { drivers = 1, mode, room, clientsTotal, expectAckCount, connections = 32, pipelining = 1, padBytes = 0, uuidPrefix = 'c', batch = 0 }) {
  if (batch > 0 && system.key !== 'herald') throw new Error(`${system.name} has no batch push route`);
  const procs = await Promise.all(Array.from({ length: drivers }, (_, d) => forkChild(`driver${d}`, join(GENERATORS, 'http-driver.mjs'))));
  await Promise.all(
    procs.map((p, d) =>
      p.call('init', {
        origins: system.push.origins,
        path: system.push.path,
        authorization: system.push.authorization,
        connections,
        pipelining,
        padBytes,
        mode,
        room,
        clientsTotal,
        uuidPrefix,
        batch,
        // Only Herald answers expectAckCount: the number of clients online in the room.
        expectAckCount: system.key === 'herald' ? expectAckCount : undefined,
        driverIndex: d,
        driverCount: drivers,
      }),
    ),
  );
  return {
    procs: procs.map((p) => ({ name: p.name, pid: p.pid, side: 'client' })),
    async run(args) {
      const parts = await Promise.all(procs.map((p) => p.call('run', args, 1_800_000)));
      return {
        sent: parts.reduce((a, p) => a + p.sent, 0),
        ok: parts.reduce((a, p) => a + p.ok, 0),
        failed: parts.flatMap((p) => p.failed),
        statuses: parts.reduce((a, p) => sumInto(a, p.statuses), {}),
        examples: parts.flatMap((p) => p.examples).slice(0, 5),
        mismatches: parts.reduce((a, p) => a + p.mismatches, 0),
        lastAnswerAt: Math.max(...parts.map((p) => p.lastAnswerAt)),
        rest: merge(parts.map((p) => p.rest)),
        lateness: merge(parts.map((p) => p.lateness)),
      };
    },
    stop: () => Promise.all(procs.map((p) => p.stop())),
  };
}

/**
 * One load step: `rate` pushes/s for `durationMs` from an absolute start, then a wait until every
 * accepted push reached every client that should get it (or `drainTimeoutMs`). CPU of every
 * process is measured over the whole step, drain included.
 *
 * Server CPU covers the whole step (drain included: all the work for these pushes); the load
 * generators' share is read over the send window only, where a busy generator would matter.
 *
 * A step "keeps up" when every push was accepted, everything arrived within the drain timeout,
 * the receive rate inside the step's window was ≥ 90 % of the offered rate and push→receive p99
 * stayed ≤ `p99LimitMs`. The last rate that keeps up is the sustained (saturation) rate.
 */
export async function runStep({ clients, drivers, procs, rate, durationMs, startN, perPush, drainTimeoutMs = 3000, p99LimitMs = 500 }) {
  const before = await clients.counts();
  await clients.snapshot();
  const meter = new CpuMeter(procs).start();
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const t0 = nowUs() + 100_000;
  const running = drivers.run({ startN, total, rate, t0 });
  running.catch(() => undefined); // awaited below; a driver dying meanwhile must not be "unhandled"
  await sleepUntil(t0 + durationMs * 1000);
  // Generators are judged on the send window alone: the drain afterwards would dilute their share.
  const windowCpu = meter.stop();
  const atEnd = await clients.counts();
  const result = await running;
  const target = before.unique + result.ok * perPush;
  const drainStart = nowUs();
  let after = await clients.counts();
  while (after.unique < target && nowUs() - drainStart < drainTimeoutMs * 1000) {
    await sleep(50);
    after = await clients.counts();
  }
  const cpu = meter.stop();
  const { histogram } = await clients.snapshot();
  const delivered = after.unique - before.unique;
  const windowS = durationMs / 1000;
  const latency = summary(histogram);
  const rest = summary(result.rest);
  const lateness = summary(result.lateness);
  const step = {
    rate,
    t0,
    pushes: total,
    ok: result.ok,
    failed: result.failed,
    statuses: result.statuses,
    examples: result.examples,
    mismatches: result.mismatches,
    offeredDeliveries: rate * perPush,
    windowDeliveriesPerS: (atEnd.unique - before.unique) / windowS,
    delivered,
    lost: Math.max(0, target - after.unique),
    duplicates: after.duplicates - before.duplicates,
    drained: after.unique >= target,
    drainMs: (nowUs() - drainStart) / 1000,
    latency,
    rest,
    lateness,
    cpu: { ...cpu, clientMaxPct: windowCpu.clientMaxPct },
    windowCpu,
    cpuUsPerDelivery: delivered > 0 ? cpu.serverUs / delivered : undefined,
    cpuUsPerPush: result.ok > 0 ? cpu.serverUs / result.ok : undefined,
    clientBound: windowCpu.clientMaxPct > 80,
    nextN: startN + total,
  };
  step.keptUp =
    result.failed.length === 0 &&
    step.drained &&
    step.windowDeliveriesPerS >= 0.9 * step.offeredDeliveries &&
    latency.count > 0 &&
    latency.p99 <= p99LimitMs;
  return step;
}

/**
 * Rising rate: steps from `start` pushes/s, × `factor` each, until a step does not keep up or
 * `max` is passed. Between steps the system gets `settleMs` to finish any backlog.
 */
export async function rise({ clients, drivers, procs, start, factor, max, durationMs, perPush, startN, drainTimeoutMs, p99LimitMs, settleMs = 1000, log }) {
  const steps = [];
  let n = startN;
  for (let rate = start; rate <= max; rate = Math.max(rate + 1, Math.round(rate * factor))) {
    const step = await runStep({ clients, drivers, procs, rate, durationMs, startN: n, perPush, drainTimeoutMs, p99LimitMs });
    n = step.nextN;
    steps.push(step);
    log?.(
      `  step ${rate}/s: ${Math.round(step.windowDeliveriesPerS)} deliveries/s in window, p50 ${step.latency.p50?.toFixed(1)} ms, ` +
        `p99 ${step.latency.p99?.toFixed(1)} ms, lost ${step.lost}, failed ${step.failed.length}${step.keptUp ? '' : ' → saturated'}${step.clientBound ? ' [client-bound]' : ''}`,
    );
    if (!step.keptUp) break;
    await sleep(settleMs);
  }
  const passing = steps.filter((s) => s.keptUp);
  const sustained = passing.length ? passing[passing.length - 1] : undefined;
  return {
    steps,
    nextN: n,
    sustainedRate: sustained?.rate,
    sustainedDeliveries: sustained ? sustained.rate * perPush : undefined,
    peakWindowDeliveries: Math.max(0, ...steps.map((s) => s.windowDeliveriesPerS)),
    saturated: steps.length > 0 && !steps[steps.length - 1].keptUp,
  };
}

/** Waits until the clients hold `target` unique deliveries or `timeoutMs` passed. */
export async function drain(clients, target, timeoutMs) {
  const startedAt = Date.now();
  let counts = await clients.counts();
  while (counts.unique < target && Date.now() - startedAt < timeoutMs) {
    await sleep(100);
    counts = await clients.counts();
  }
  return counts;
}
