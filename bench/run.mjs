#!/usr/bin/env node
/*
 * Herald's benchmark suite (docs/benchmarks.md explains the scenarios and how they measure).
 *
 *   npm run bench                     every scenario at full size
 *   npm run bench -- s2 s3            some scenarios
 *   npm run bench -- s1 --quick       small sizes, to check the harness works (not results)
 *   npm run bench -- s2 --systems herald,b-sio --clients 500 --no-write
 *
 * Any scenario parameter can be overridden with --<name> <value> (names are printed with each
 * run). Every scenario prints its tables and appends a dated section to docs/benchmarks.md
 * (unless --no-write). Everything a run starts is stopped at its end, also on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { liveChildren } from './lib/ipc.mjs';
import { cpuTicks, machineBusyShare, stealShare } from './lib/procfs.mjs';
import { appendSection, machineInfo, machineLine, REPO_ROOT, REPORT_FILE, section } from './lib/report.mjs';

const SCENARIOS = {
  s1: './scenarios/s1-idle.mjs',
  s2: './scenarios/s2-room-fanout.mjs',
  s2a: './scenarios/s2a-room-fanout-acks.mjs',
  s3: './scenarios/s3-user-push.mjs',
  s3b: './scenarios/s3b-batch-push.mjs',
  s4: './scenarios/s4-apns-drain.mjs',
  s5: './scenarios/s5-reconnect-storm.mjs',
  s6: './scenarios/s6-ack-path.mjs',
  s7: './scenarios/s7-overload.mjs',
  s8: './scenarios/s8-roomsync.mjs',
  s9: './scenarios/s9-webservice.mjs',
  s10: './scenarios/s10-sessions.mjs',
  s11: './scenarios/s11-chat-direct.mjs',
};
const ALL_SYSTEMS = ['herald', 'b-sio', 'b-ws', 'b-sessions'];

function parseArgs(argv) {
  const picked = [];
  const options = { quick: false, write: true, systems: undefined, overrides: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-write') options.write = false;
    else if (arg === '--cpu-prof') {
      // Herald's services write V8 CPU profiles (.cpuprofile, open in Chrome DevTools or summarise
      // with bench/lib/profile-summary.mjs) into this folder when they stop.
      const dir = argv[++i];
      if (dir === undefined) throw new Error('--cpu-prof needs a folder');
      options.cpuProfDir = dir;
    }
    else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split('=', 2);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      if (name === 'systems') options.systems = value.split(',').map((s) => s.trim().toLowerCase());
      else options.overrides[name] = value;
    } else if (arg === 'all') picked.push(...Object.keys(SCENARIOS));
    else if (SCENARIOS[arg.toLowerCase()]) picked.push(arg.toLowerCase());
    else throw new Error(`unknown scenario "${arg}" (choose from ${Object.keys(SCENARIOS).join(', ')}, all)`);
  }
  options.scenarios = [...new Set(picked.length ? picked : Object.keys(SCENARIOS))];
  for (const s of options.systems ?? []) if (!ALL_SYSTEMS.includes(s)) throw new Error(`unknown system "${s}" (${ALL_SYSTEMS.join(', ')})`);
  return options;
}

function coerce(value, like) {
  if (typeof like === 'number') {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`expected a number, got "${value}"`);
    return n;
  }
  if (typeof like === 'boolean') return value === 'true' || value === '1';
  return value;
}

function fdLimits() {
  try {
    const [soft, hard] = execFileSync('sh', ['-c', 'ulimit -n; ulimit -Hn']).toString().trim().split('\n');
    const num = (v) => (v === 'unlimited' ? Infinity : Number(v));
    return { soft: num(soft), hard: num(hard) };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

/**
 * Sockets are file descriptors: a connector with 10 000 clients needs 10 000 of them, and so does a
 * generator holding 5 000 clients (plus its half of the loopback pairs). Node raises its own soft
 * limit to the hard limit at start, so the hard limit is what counts for Node processes.
 */
function checkFds(scenario, params) {
  const need = scenario.fdNeeds(params);
  const { soft, hard } = fdLimits();
  const line = `file descriptors: this run needs about ${need} in one process; ulimit -n is ${soft} (hard ${hard})`;
  if (hard < need) {
    throw new Error(
      `${line}.\nToo low for ${scenario.id.toUpperCase()} at this size. Raise it in the shell that runs the bench, e.g.\n` +
        `  ulimit -n ${Math.max(65536, need * 2)}   (as root, or after raising the hard limit in /etc/security/limits.conf)\n` +
        `or run a smaller size (--clients N) or --quick.`,
    );
  }
  return line + (soft < need ? ' (Node raises its soft limit to the hard limit itself)' : '');
}

function checkBuild() {
  for (const role of ['connector', 'logic', 'worker']) {
    if (!existsSync(join(REPO_ROOT, 'services', role, 'dist', 'main.js'))) throw new Error(`services/${role}/dist is missing: run \`npm run build\` first`);
  }
  if (!existsSync(join(REPO_ROOT, 'libs', 'test-support', 'dist', 'index.js'))) throw new Error('libs/test-support/dist is missing: run `npm run build` first');
}

const cleanups = [];
let interrupted = false;

async function runCleanups() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    await Promise.race([fn().catch((e) => console.error(`cleanup: ${e.message}`)), new Promise((r) => setTimeout(r, 15_000))]);
  }
  // Anything forked and still alive (a generator of a scenario that failed half-way).
  await Promise.all(liveChildren().map((c) => c.stop()));
}

process.on('unhandledRejection', (reason) => {
  console.error(`unhandled rejection: ${reason?.stack ?? reason}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping everything this run started…`);
    void runCleanups().finally(() => process.exit(130));
  });
}

async function main() {
  const argv = process.argv.slice(2);
  const options = parseArgs(argv);
  if (options.cpuProfDir) process.env.BENCH_CPU_PROF_DIR = resolve(options.cpuProfDir);
  if (options.help) {
    console.log(`usage: npm run bench -- [s1 … s11 | s2a | s3b | all] [--quick] [--systems ${ALL_SYSTEMS.join(',')}] [--no-write] [--<param> <value>]`);
    return 0;
  }
  checkBuild();
  let failures = 0;
  for (const key of options.scenarios) {
    if (interrupted) break;
    const scenario = await import(SCENARIOS[key]);
    const params = scenario.params(options.quick);
    for (const [name, value] of Object.entries(options.overrides)) {
      if (!(name in params)) throw new Error(`${key}: unknown parameter --${name} (known: ${Object.keys(params).join(', ')})`);
      params[name] = coerce(value, params[name]);
    }
    const systems = (options.systems ?? scenario.systems).filter((s) => scenario.systems.includes(s));
    const startedAt = new Date();
    const machine = machineInfo(await machineBusyShare(1000));
    console.log(`\n=== ${key.toUpperCase()}: ${scenario.title}${options.quick ? ' (quick validation run)' : ''}`);
    console.log(`machine: ${machineLine(machine)}`);
    console.log(`parameters: ${JSON.stringify(params)}; systems: ${systems.join(', ')}`);
    console.log(checkFds(scenario, params));
    if (machine.busyBefore > 0.25) console.log(`note: the machine was ${(100 * machine.busyBefore).toFixed(0)} % busy before the run: figures will be disturbed`);
    const log = (text) => console.log(text);
    const track = (fn) => {
      cleanups.push(fn);
      return fn;
    };
    const release = (fn) => {
      const i = cleanups.lastIndexOf(fn);
      if (i < 0) return Promise.resolve(); // already run by an interruption
      cleanups.splice(i, 1);
      return fn();
    };
    let outcome;
    const ticksBefore = cpuTicks();
    try {
      outcome = await scenario.run({ params, quick: options.quick, systems, log, track, release });
    } catch (error) {
      failures++;
      if (interrupted) break;
      console.error(`${key}: failed: ${error.stack ?? error}`);
      await runCleanups();
      continue;
    }
    await runCleanups();
    // A shared VM: time the hypervisor gave to other guests makes the same run slower.
    const steal = stealShare(ticksBefore, cpuTicks());
    outcome.body = `${outcome.body.trim()}\n\nCPU time stolen by the hypervisor during the run: ${(100 * steal).toFixed(1)} % of the machine's (other guests ran; a run with much steal is slower).`;
    console.log(`\n${outcome.body}\n`);
    if (outcome.failed) failures++;
    if (options.write) {
      appendSection(section({ id: key, title: scenario.title, quick: options.quick, machine, params: { ...params, systems: systems.join(',') }, body: outcome.body, argv, startedAt }));
      console.log(`appended to ${REPORT_FILE}`);
    }
  }
  return failures ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (error) => {
    console.error(error.message ?? error);
    await runCleanups();
    process.exitCode = 1;
  },
);
