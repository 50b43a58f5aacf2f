// Steps shared by `npm start` (scripts/start.mjs) and `npm test` (scripts/test.mjs): run a command
// in the foreground, install dependencies on a fresh clone, compile. Node built-ins only, because this
// runs before `node_modules` exists.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

/** Children of run() still running, so that a signal sent to the script alone can reach them. */
const running = new Set();
/** Set by signalRunning(): the script is stopping, so run() starts nothing new. */
let interrupted = false;

/**
 * Runs a command with the terminal as its stdio and resolves with its exit code (128 + n when
 * signal n ended it, as a shell reports it).
 */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    if (interrupted) throw new Error(`interrupted before \`${command} ${args.join(' ')}\``);
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    running.add(child);
    child.once('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? 128 + (constants.signals[signal] ?? 0));
    });
  });
}

/** Sends a signal to every command run() is running (e.g. `kill <pid>` of the script, not its group). */
export function signalRunning(signal) {
  interrupted = true;
  for (const child of running) child.kill(signal);
}

async function runOrThrow(command, args, options) {
  const code = await run(command, args, options);
  if (code !== 0) throw new Error(`\`${[command, ...args].join(' ')}\` failed with exit code ${code}`);
}

/**
 * A fresh clone has no `node_modules`: install exactly what package-lock.json pins (`npm ci`).
 * Some npm 11 releases reject their own lock file in `npm ci` ("Missing: @unrs/resolver-binding-…
 * from lock file": the lock keeps only this OS's optional native bindings), while `npm install`
 * installs the same pinned tree; `--no-save` keeps it from rewriting package-lock.json.
 */
export async function ensureInstalled(root, log) {
  if (existsSync(join(root, 'node_modules'))) return;
  log('node_modules is missing: running `npm ci`');
  if ((await run('npm', ['ci'], { cwd: root })) === 0) return;
  if (interrupted) throw new Error('`npm ci` interrupted');
  log('`npm ci` failed: running `npm install --no-save` instead');
  await runOrThrow('npm', ['install', '--no-save'], { cwd: root });
}

/** Runs the project's TypeScript compiler in `root`, e.g. `['-b']` (incremental: a no-op when nothing changed). */
export async function tsc(root, args) {
  await runOrThrow(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], { cwd: root });
}
