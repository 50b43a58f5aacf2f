#!/usr/bin/env node
/*
 * What one REST push costs the process that answers it, at its ceiling: a closed loop of
 * `--inFlight` requests (each sends the next when answered) against one logic process (Herald) or
 * B-sio's bare push endpoint, with one connector or server and no clients (single-user rooms nobody
 * is in), so nothing but the REST → store → publish path is measured. Prints pushes/s and the CPU-µs
 * per push of every server process and of Redis, after a warm-up of 5 000 pushes.
 *
 *   node bench/micro/logic-push.mjs [--system herald|b-sio] [--pushes 60000] [--inFlight 128]
 *
 * The loop runs in this process, on the same two cores: compare runs of one machine and session
 * only, several of each (the spread between runs is some 10 %). Needs the build (`npm run build`).
 */
import { Pool } from 'undici';
import { cliOption } from '../lib/cli-options.mjs';
import { cpuTimeUs } from '../lib/procfs.mjs';
import { SYSTEMS } from '../lib/systems.mjs';

const key = cliOption('system', 'herald');
const pushes = Number(cliOption('pushes', 60_000));
const inFlight = Number(cliOption('inFlight', 128));
if (!SYSTEMS[key] || !(pushes > 0) || !(inFlight > 0)) {
  console.error('usage: node bench/micro/logic-push.mjs [--system herald|b-sio] [--pushes N] [--inFlight N]');
  process.exit(2);
}

const system = await SYSTEMS[key]({ connectors: 1, logic: 1 });
try {
  const pool = new Pool(system.push.origins[0], { connections: inFlight });
  const pad = 'x'.repeat(64);
  const headers = { 'content-type': 'application/json', ...(system.push.authorization ? { authorization: system.push.authorization } : {}) };
  const send = async (n) => {
    const body = JSON.stringify({ room: `user_u${n % 5000}`, pushData: { n, t: n, p: pad } });
    const answer = await pool.request({ path: system.push.path, method: 'POST', headers, body });
    const text = await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`push ${n}: ${answer.statusCode} ${text}`);
  };
  const loop = async (count) => {
    let next = 0;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < count) await send(next++);
    }));
  };
  await loop(5000);
  const procs = system.procs.filter((p) => p.side === 'server');
  const before = procs.map((p) => cpuTimeUs(p.pid));
  const t0 = performance.now();
  await loop(pushes);
  const ms = performance.now() - t0;
  const used = procs.map((p, i) => cpuTimeUs(p.pid) - before[i]);
  const perPush = (us) => (us / pushes).toFixed(1);
  console.log(`${system.name}: ${Math.round((pushes / ms) * 1000)} pushes/s, ${inFlight} in flight; CPU-µs per push: ${procs.map((p, i) => `${p.name} ${perPush(used[i])}`).join(', ')}; servers + Redis ${perPush(used.reduce((a, b) => a + b, 0))}`);
  await pool.close();
} finally {
  await system.stop();
}
