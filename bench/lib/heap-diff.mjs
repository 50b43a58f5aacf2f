#!/usr/bin/env node
/*
 * What grew between two V8 heap snapshots, by kind of object: node type + name (constructor for
 * objects, function name for closures, "(string)" for strings …), with counts and self sizes, and
 * per connection when told how many connections the second one holds more.
 *
 *   BENCH_HEAP_SNAPSHOT_DIR=/tmp/snaps node bench/run.mjs s1 --systems herald --no-write --clients 2000
 *   node bench/lib/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [connections] [rows]
 *
 * (S1's probe writes one snapshot per memory sample when BENCH_HEAP_SNAPSHOT_DIR is set: before
 * and after connecting, then after the idle phase.)
 */
import { readFileSync } from 'node:fs';

function tally(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: fields, node_types: [types] } = snap.snapshot.meta;
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = snap.strings[nodes[i + iName]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    else if (type === 'number' || type === 'hidden' || type === 'array' || type === 'code') name = name.length > 40 ? name.slice(0, 40) : name;
    const key = `${type}: ${name}`;
    const entry = out.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += nodes[i + iSize];
    out.set(key, entry);
  }
  return out;
}

const [beforeFile, afterFile, connections = '1', rows = '30'] = process.argv.slice(2);
if (!afterFile) {
  console.error('usage: node bench/lib/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [connections] [rows]');
  process.exit(1);
}
const n = Number(connections);
const before = tally(beforeFile);
const after = tally(afterFile);
const diff = [...after].map(([key, a]) => {
  const b = before.get(key) ?? { count: 0, size: 0 };
  return { key, count: a.count - b.count, size: a.size - b.size };
});
diff.sort((x, y) => y.size - x.size);
const total = diff.reduce((s, d) => s + d.size, 0);
console.log(`total self size grown: ${(total / n).toFixed(0)} B per connection (${n} connections)`);
console.log('bytes/conn  objects/conn  kind');
for (const d of diff.slice(0, Number(rows))) console.log(`${(d.size / n).toFixed(1).padStart(10)}  ${(d.count / n).toFixed(2).padStart(12)}  ${d.key}`);
