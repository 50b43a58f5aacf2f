#!/usr/bin/env node
/*
 * Where a process allocated what outlived the young generation: the allocation sites of a V8
 * sampling heap profile written by the probe with BENCH_HEAP_SAMPLE_DIR (lib/probe.cjs), by bytes,
 * each with the first frames of its stack. The probe keeps the samples of objects that major GCs
 * collected and drops those minor GCs collected, so a site that is large here but holds little
 * in a heap snapshot made garbage that was promoted before it died (old-space pages left committed
 * after a burst, as S1 measures).
 *
 *   BENCH_HEAP_SAMPLE_DIR=/tmp/hs node bench/run.mjs s1 --systems herald --no-write
 *   node bench/lib/heap-sample-summary.mjs /tmp/hs/connector-<pid>.heapprofile [--top 30] [--frames 6]
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1].startsWith('--')));
if (!file) {
  console.error('usage: node bench/lib/heap-sample-summary.mjs <file.heapprofile> [--top N] [--frames N]');
  process.exit(2);
}
const top = option('top', 30);
const frames = option('frames', 6);

const profile = JSON.parse(readFileSync(file, 'utf8'));
const bySite = new Map();
let total = 0;
const frameName = ({ functionName, url, lineNumber }) => `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
(function walk(node, stack) {
  const here = [frameName(node.callFrame), ...stack].slice(0, frames);
  if (node.selfSize > 0) {
    const site = here.join(' < ');
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
  }
  for (const child of node.children ?? []) walk(child, here);
})(profile.head, []);

const MiB = 2 ** 20;
console.log(`${file}: ${(total / MiB).toFixed(1)} MiB sampled (live at the end or collected by a major GC)\n`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${(bytes / MiB).toFixed(2).padStart(8)} MiB  ${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${site}`);
}
