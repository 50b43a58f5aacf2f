'use strict';
/*
 * Preloaded into every measured server process (NODE_OPTIONS="--expose-gc --require probe.cjs",
 * BENCH_PROBE_FILE=<path>): on SIGUSR2 it collects garbage twice and writes process.memoryUsage()
 * to the file, so the bench can read heap per connection of a service it does not otherwise touch.
 * Nothing runs until the signal arrives; the process is otherwise unchanged.
 */
const { mkdirSync, writeFileSync, renameSync } = require('node:fs');

const file = process.env.BENCH_PROBE_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    if (typeof global.gc === 'function') {
      global.gc();
      global.gc();
    }
    // Committed and used bytes per V8 heap space: tells what connections hold (old space) from
    // what the collector keeps for itself (new space grown during a burst of allocations).
    const spaces = {};
    for (const s of require('node:v8').getHeapSpaceStatistics()) spaces[s.space_name] = { committed: s.space_size, used: s.space_used_size };
    const sample = { ...process.memoryUsage(), spaces, at: Number(process.hrtime.bigint() / 1000n), pid: process.pid };
    // BENCH_HEAP_SNAPSHOT_DIR: a heap snapshot per sample too, to compare with bench/lib/heap-diff.mjs.
    const snapshots = process.env.BENCH_HEAP_SNAPSHOT_DIR;
    if (snapshots) sample.snapshot = require('node:v8').writeHeapSnapshot(require('node:path').join(snapshots, `${process.pid}-${sample.at}.heapsnapshot`));
    writeFileSync(`${file}.tmp`, JSON.stringify(sample));
    renameSync(`${file}.tmp`, file);
  });
}

/**
 * Runs an inspector profiler from now on (`start`: [method, params] posted in order) and, when the
 * process exits, writes what `stop` answers to `<dir>/<role>-<pid>.<ext>` (a same-thread inspector
 * session answers synchronously, so this works inside an 'exit' listener).
 */
function profileUntilExit(dir, ext, start, stop) {
  const { Session } = require('node:inspector');
  const { join, basename, dirname } = require('node:path');
  // The folder may not exist yet: an 'exit' listener's failed write would go unnoticed.
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  for (const [method, params] of start) session.post(method, params);
  const role = basename(dirname(dirname(process.argv[1] || 'unknown/dist/x')));
  process.on('exit', () => {
    session.post(stop, (error, result) => {
      if (!error) writeFileSync(join(dir, `${role}-${process.pid}.${ext}`), JSON.stringify(result.profile));
    });
  });
}

/*
 * `npm run bench -- … --cpu-prof <dir>` (BENCH_CPU_PROF_DIR): `--cpu-prof` is not allowed in
 * NODE_OPTIONS, so the probe runs V8's sampling profiler through the inspector instead and writes
 * `<role>-<pid>.cpuprofile` when the process exits.
 */
if (process.env.BENCH_CPU_PROF_DIR) {
  profileUntilExit(process.env.BENCH_CPU_PROF_DIR, 'cpuprofile', [['Profiler.enable'], ['Profiler.setSamplingInterval', { interval: 500 }], ['Profiler.start']], 'Profiler.stop');
}

/*
 * BENCH_HEAP_SAMPLE_DIR=<dir>: V8's sampling heap profiler runs from the start, keeping the samples
 * of objects that major GCs collected and dropping those minor GCs collected, and the process
 * writes `<role>-<pid>.heapprofile` when it exits. Its sites are what outlived the young
 * generation: what the process holds, and the garbage that was promoted before it died (old-space
 * pages a burst leaves committed). Summarise with bench/lib/heap-sample-summary.mjs.
 */
if (process.env.BENCH_HEAP_SAMPLE_DIR) {
  profileUntilExit(
    process.env.BENCH_HEAP_SAMPLE_DIR,
    'heapprofile',
    [['HeapProfiler.enable'], ['HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false }]],
    'HeapProfiler.stopSampling',
  );
}
