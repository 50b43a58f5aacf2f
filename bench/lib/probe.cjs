'use strict';
/*
 * Preloaded into every measured server process (NODE_OPTIONS="--expose-gc --require probe.cjs",
 * BENCH_PROBE_FILE=<path>): on SIGUSR2 it collects garbage twice and writes process.memoryUsage()
 * to the file, so the bench can read heap per connection of a service it does not otherwise touch.
 * Nothing runs until the signal arrives; the process is otherwise unchanged.
 */
const { writeFileSync, renameSync } = require('node:fs');

const file = process.env.BENCH_PROBE_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    if (typeof global.gc === 'function') {
      global.gc();
      global.gc();
    }
    const sample = { ...process.memoryUsage(), at: Number(process.hrtime.bigint() / 1000n), pid: process.pid };
    writeFileSync(`${file}.tmp`, JSON.stringify(sample));
    renameSync(`${file}.tmp`, file);
  });
}
