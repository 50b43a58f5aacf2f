#!/usr/bin/env node
/*
 * Summarises a V8 CPU profile (`.cpuprofile`, as written by `node --cpu-prof` or
 * `npm run bench -- … --cpu-prof <dir>`): self time by function and by package, and inclusive
 * time of the functions that matter, so that a profile can be read (and quoted in
 * docs/benchmarks.md) without a browser.
 *
 *   node bench/lib/profile-summary.mjs <file.cpuprofile> [--top 25] [--from S --seconds N] [--buckets S]
 *
 * --from/--seconds keep only the samples taken N seconds from S seconds after the profile started
 * (e.g. S1's idle phase); --buckets prints how busy the process was in each S-second slice first,
 * to find such a phase.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1].startsWith('--')));
const topIndex = args.indexOf('--top');
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
const numberOption = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const fromS = numberOption('from');
const windowS = numberOption('seconds');
const bucketS = numberOption('buckets');
if (!file) {
  console.error('usage: node bench/lib/profile-summary.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Time per sample: the deltas belong to the sample they precede. A sample's time since the start
// is the sum of the deltas before it.
const isIdle = (id) => byId.get(id).callFrame.functionName === '(idle)';
const sinceStartUs = [];
let clock = 0;
for (const delta of profile.timeDeltas) sinceStartUs.push((clock += delta));
if (bucketS) {
  const buckets = new Map();
  profile.samples.forEach((id, i) => {
    const b = Math.floor(sinceStartUs[i] / (bucketS * 1e6));
    const entry = buckets.get(b) ?? { all: 0, busy: 0 };
    const us = profile.timeDeltas[i + 1] ?? 0;
    entry.all += us;
    if (!isIdle(id)) entry.busy += us;
    buckets.set(b, entry);
  });
  console.log(`busy per ${bucketS} s: ${[...buckets].map(([b, e]) => `${b * bucketS}s ${Math.round((100 * e.busy) / e.all)}%`).join(' · ')}`);
}
const inWindow = (i) => fromS === undefined || (sinceStartUs[i] >= fromS * 1e6 && sinceStartUs[i] < (fromS + (windowS ?? Infinity)) * 1e6);
const selfUs = new Map();
profile.samples.forEach((id, i) => {
  if (inWindow(i)) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const where = (cf) => {
  const url = cf.url || '';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (/\/(libs|services)\/([^/]+)\//.test(url)) return `herald:${/\/(libs|services)\/([^/]+)\//.exec(url)[2]}`;
  if (url.startsWith('node:')) return 'node-core';
  if (!url) return cf.functionName.startsWith('(') ? cf.functionName : 'native';
  return url;
};
const label = (cf) => `${cf.functionName || '(anonymous)'} ${where(cf)}:${cf.lineNumber + 1}`;

const selfByFn = new Map();
const selfByPkg = new Map();
const inclusive = new Map();
for (const [id, us] of selfUs) {
  const cf = byId.get(id).callFrame;
  selfByFn.set(label(cf), (selfByFn.get(label(cf)) ?? 0) + us);
  selfByPkg.set(where(cf), (selfByPkg.get(where(cf)) ?? 0) + us);
  // Inclusive: every distinct frame on the stack of this sample.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur).callFrame);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
}

const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
const print = (heading, map, n) => {
  console.log(`\n${heading}`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
print('self time by package', selfByPkg, 15);
print('self time by function', selfByFn, top);
print('inclusive time (functions of Herald and its direct libraries)', new Map([...inclusive].filter(([k]) => /herald:|fastify|ioredis|bullmq|socket.io|pino|ajv|redis-emitter/.test(k))), top);
