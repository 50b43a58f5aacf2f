import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A redis-server started by a test, on a free loopback port, with its own temporary directory. */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** SIGTERM, wait for the exit, remove the directory. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, for fault tests. The directory stays until stop(). */
  kill(): Promise<void>;
  /** SIGTERM (Redis writes its AOF and exits cleanly) without removing the directory: an outage until restart(). */
  shutdown(): Promise<void>;
  /** Starts the server again on the same port and directory (after kill or a graceful shutdown). */
  restart(): Promise<void>;
}

export interface TestRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. */
  readonly args?: readonly string[];
  /**
   * A redis.conf to start from (deploy/redis/redis.conf). Only the port, the directory and the log
   * file are then set on the command line (they override the file); persistence stays the file's.
   */
  readonly configFile?: string;
}

/** Binary chosen by `scripts/test.mjs` (scripts/redis-server.mjs), else `redis-server` on PATH. */
export function redisServerBinary(): string {
  return process.env['HERALD_REDIS_SERVER'] || 'redis-server';
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function launch(port: number, dir: string, args: readonly string[], configFile: string | undefined): Promise<ChildProcess> {
  const base = configFile
    ? [configFile, '--port', String(port), '--dir', dir, '--logfile', '']
    : ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', ''];
  return new Promise((resolve, reject) => {
    const child = spawn(redisServerBinary(), [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', onExit);
    child.on('error', reject);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a private redis-server. A free port can be taken by someone else between the probe and
 * the bind, so a failed start is tried again on another port (a bind race, not a flaky retry).
 */
export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  const args = options.args ?? [];
  let child: ChildProcess | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, dir, args, options.configFile);
    } catch (error) {
      lastError = error;
    }
  }
  if (!child) throw lastError;
  let current: ChildProcess = child;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      current.kill('SIGTERM');
      await exited(current);
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      current.kill('SIGKILL');
      await exited(current);
    },
    async shutdown() {
      current.kill('SIGTERM');
      await exited(current);
    },
    async restart() {
      current.kill('SIGTERM');
      await exited(current);
      current = await launch(port, dir, args, options.configFile);
    },
  };
}
