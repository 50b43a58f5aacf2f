// The Redis lifecycle of `npm start` and `npm test`: find (or install) a redis-server >= 6.2 and run
// a private one on a free loopback port. Node built-ins only: it runs before `node_modules` exists.
//
// CLI: `node scripts/redis-server.mjs ensure` prints the absolute path of the binary (or explains on
// stderr how to install one and exits 1).
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { canInstallPackages, findOnPath, installCommand, installPackage } from './debian-package.mjs';

const MIN_VERSION = [6, 2];
const defaultLog = (line) => console.error(`[herald] ${line}`);

/** `Redis server v=7.0.15 sha=…` → [7, 0, 15] */
async function versionOf(binary) {
  const { stdout } = await promisify(execFile)(binary, ['--version']);
  const match = /v=(\d+)\.(\d+)\.(\d+)/.exec(stdout);
  if (!match) throw new Error(`cannot read the version of ${binary} from \`${stdout.trim()}\``);
  return match.slice(1).map(Number);
}

/**
 * Resolves with the absolute path of a redis-server >= 6.2: the one on the PATH; when there is none
 * and we are root with apt-get, Debian's package, installed now. Otherwise rejects with the command
 * to run.
 */
export async function ensureRedisServer({ log = defaultLog } = {}) {
  let binary = findOnPath('redis-server');
  if (!binary) {
    if (!canInstallPackages()) {
      throw new Error(
        'redis-server (>= 6.2) is not on the PATH. Install it, e.g. on Debian/Ubuntu: ' +
          `${installCommand('redis-server')} ` +
          '(macOS: brew install redis), or set HERALD_REDIS_URL to an existing Redis.',
      );
    }
    log('redis-server is not on the PATH');
    await installPackage('redis-server', log);
    // The package installs /usr/bin/redis-server, which a minimal PATH may lack.
    binary = findOnPath('redis-server') ?? '/usr/bin/redis-server';
  }
  const version = await versionOf(binary);
  const [major, minor] = version;
  if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1])) {
    throw new Error(
      `${binary} is redis-server ${version.join('.')}; Herald needs >= ${MIN_VERSION.join('.')}. ` +
        'Put a newer redis-server first on the PATH (e.g. from packages.redis.io) or set HERALD_REDIS_URL.',
    );
  }
  return binary;
}

function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

const READY_TIMEOUT_MS = 60_000;
const KILL_AFTER_MS = 10_000;

/** Spawns redis-server on `port`; resolves once it accepts connections, rejects with its output otherwise. */
function launch(binary, dir, port, appendonly) {
  const args = [
    '--bind', '127.0.0.1',
    '--port', String(port),
    '--dir', dir,
    '--appendonly', appendonly ? 'yes' : 'no',
    '--save', '',
    '--daemonize', 'no',
    '--protected-mode', 'yes',
    '--logfile', '',
  ];
  // Own process group: a Ctrl-C in the terminal goes to the whole foreground group, and Redis must
  // outlive the services that still write to it; its owner stops it with stop() when they are gone.
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const settle = () => {
      clearTimeout(timer);
      child.stdout.off('data', onOutput);
      child.stderr.off('data', onOutput);
      child.off('exit', onExit);
    };
    const fail = (message) => {
      settle();
      child.kill('SIGKILL');
      reject(Object.assign(new Error(`${message}\n${output}`), { output }));
    };
    const timer = setTimeout(() => fail(`redis-server was not ready after ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    const onOutput = (chunk) => {
      output += chunk;
      if (!output.includes('Ready to accept connections')) return;
      settle();
      resolvePromise(child);
    };
    const onExit = (code, signal) => fail(`redis-server exited (${code ?? signal}) before it was ready:`);
    child.stdout.setEncoding('utf8').on('data', onOutput);
    child.stderr.setEncoding('utf8').on('data', onOutput);
    child.once('exit', onExit);
    child.once('error', (error) => fail(error.message));
  });
}

/**
 * Runs a private redis-server on a free loopback port with its data in `dir` (which must exist).
 * Resolves with `{url, port, process, stop}`; stop() sends SIGTERM (SIGKILL after 10 s) and resolves
 * once it exited.
 */
export async function startPrivateRedis({ binary, dir, appendonly = true, log = defaultLog }) {
  let child;
  let port;
  // The free port may be taken by someone else between the probe and redis' bind: try another one.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(binary, dir, port, appendonly);
    } catch (error) {
      const bindFailed = /Address already in use|Failed listening on port/.test(error.output ?? '');
      if (!bindFailed || attempt === 5) throw error;
    }
  }
  let stopping;
  // Keep draining its output (a full pipe would block Redis) and pass on its warnings (`#` lines)
  // while it runs, so that an unexpected exit says why.
  const passWarnings = (chunk) => {
    if (stopping) return;
    for (const line of chunk.split('\n')) {
      if (/^\d+:[A-Z] .* # /.test(line)) log(`redis-server: ${line}`);
    }
  };
  child.stdout.on('data', passWarnings);
  child.stderr.on('data', passWarnings);
  // The owner normally calls stop(); if it dies on an exception instead, Redis must not stay behind.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);

  const exited = new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) resolvePromise();
    else child.once('exit', () => resolvePromise());
  }).then(() => process.off('exit', killOnExit));

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    stop() {
      if (!stopping) {
        stopping = exited;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
        exited.then(() => clearTimeout(timer));
      }
      return stopping;
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const command = process.argv[2];
  if (command !== 'ensure') {
    console.error('usage: node scripts/redis-server.mjs ensure   (prints the path of a redis-server >= 6.2)');
    process.exit(2);
  }
  ensureRedisServer().then(
    (binary) => console.log(binary),
    (error) => {
      console.error(`[herald] ${error.message}`);
      process.exitCode = 1;
    },
  );
}
