#!/usr/bin/env node
/*
 * Summarises a V8 CPU profile (`.cpuprofile`, as written by `node --cpu-prof` or
 * `npm run bench -- … --cpu-prof <dir>`): self time by function and by package, and inclusive
 * time of the functions that matter, so that a profile can be read (and quoted in
 * docs/benchmarks.md) without a browser.
 *
 *   node bench/lib/profile-summary.mjs <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const topIndex = args.indexOf('--top');
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
if (!file) {
  console.error('usage: node bench/lib/profile-summary.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Time per sample: the deltas belong to the sample they precede.
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
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
