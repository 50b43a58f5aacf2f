#!/usr/bin/env node
/*
 * Where a single-user push's CPU goes below the ceiling: S3's setup (5 000 clients, each alone in
 * its user room, two connectors, one logic, the same drivers), a warm-up, then `--seconds` at a
 * fixed `--rate`; prints each process's user and system CPU-µs per push (servers, Redis and the
 * load generators) and Redis' commands per push from INFO commandstats (a command run by a script
 * is counted under its own name as well as inside EVALSHA's time; above capacity the times include
 * waiting for a core).
 *
 *   node bench/micro/s3-fixed.mjs [--system herald|b-sio] [--rate 3000] [--seconds 10]
 *
 * Compare systems at a rate both keep up with, in one session (the VM's speed moves between runs).
 * Needs the build (`npm run build`).
 */
import { Redis } from 'ioredis';
import { sleep } from '../lib/clock.mjs';
import { runStep } from '../lib/load.mjs';
import { cliOption } from '../lib/cli-options.mjs';
import { cpuSplitUs } from '../lib/procfs.mjs';
import { params, setup } from '../scenarios/s3-user-push.mjs';

const key = cliOption('system', 'herald');
const rate = Number(cliOption('rate', 3000));
const seconds = Number(cliOption('seconds', 10));
if (!['herald', 'b-sio'].includes(key) || !(rate > 0) || !(seconds > 0)) {
  console.error('usage: node bench/micro/s3-fixed.mjs [--system herald|b-sio] [--rate N] [--seconds N]');
  process.exit(2);
}

const cleanups = [];
const ctx = {
  log: (text) => console.log(text),
  track: (fn) => (cleanups.push(fn), fn),
  release: (fn) => {
    const i = cleanups.lastIndexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
    return fn();
  },
};
const { system, clients, drivers, procs, teardown } = await setup(key, params(false), ctx);
const redis = new Redis(system.redis.url, { lazyConnect: true });
const commandStats = async () => {
  const stats = new Map();
  for (const line of String(await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (match) stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
};
try {
  await redis.connect();
  const stepArgs = { clients, drivers, procs, perPush: 1, drainTimeoutMs: 3000, p99LimitMs: 500 };
  const warm = await runStep({ ...stepArgs, rate: Math.min(1000, rate), durationMs: 2000, startN: 0 });
  await sleep(1000);
  const statsBefore = await commandStats();
  const cpuBefore = procs.map((p) => cpuSplitUs(p.pid));
  const step = await runStep({ ...stepArgs, rate, durationMs: seconds * 1000, startN: warm.nextN });
  const cpuAfter = procs.map((p) => cpuSplitUs(p.pid));
  const statsAfter = await commandStats();
  const per = (us) => (us / step.ok).toFixed(1);
  console.log(`${system.name}: ${rate} pushes/s for ${seconds} s, ${step.ok} accepted, lost ${step.lost}, kept up ${step.keptUp ? 'yes' : 'no'}, push→receive p50 ${step.latency.p50?.toFixed(1)} ms, p99 ${step.latency.p99?.toFixed(1)} ms`);
  console.log('\n| process | user CPU-µs/push | system CPU-µs/push |\n| --- | --- | --- |');
  let servers = 0;
  procs.forEach((p, i) => {
    const [before, after] = [cpuBefore[i], cpuAfter[i]];
    if (!before || !after) return;
    const user = after.user - before.user;
    const sys = after.system - before.system;
    if (p.side === 'server') servers += user + sys;
    console.log(`| ${p.name} | ${per(user)} | ${per(sys)} |`);
  });
  console.log(`\nservers + Redis: ${per(servers)} CPU-µs per push\n\n| Redis command | calls/push | µs/push |\n| --- | --- | --- |`);
  const rows = [...statsAfter].map(([name, after]) => ({ name, calls: after.calls - (statsBefore.get(name)?.calls ?? 0), usec: after.usec - (statsBefore.get(name)?.usec ?? 0) }));
  for (const row of rows.filter((r) => r.calls > 0 && r.name !== 'info').sort((a, b) => b.usec - a.usec)) {
    console.log(`| ${row.name} | ${(row.calls / step.ok).toFixed(3)} | ${(row.usec / step.ok).toFixed(2)} |`);
  }
} finally {
  redis.disconnect();
  await teardown();
}
