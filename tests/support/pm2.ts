/**
 * pm2 for the deployment test: the repository's own pm2 CLI with a private PM2_HOME (its daemon,
 * sockets and pm2.log live in a temporary directory), so the test never sees or touches another pm2.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '@herald/test-support';

export interface Pm2Result {
  readonly code: number | null;
  readonly output: string;
}

export interface Pm2 {
  readonly home: string;
  /** Runs `pm2 <args>` from the repository root; resolves with its exit code and output. */
  run(args: string[], timeoutMs?: number): Promise<Pm2Result>;
  /** `pm2 jlist`: name, pid, status and restarts of every process. */
  list(): Promise<{ name: string; pid: number; status: string; restarts: number }[]>;
  /** The daemon's own log (`App [name:id] exited with code [0] via signal [SIGINT]` lines). */
  daemonLog(): string;
  /** `pm2 kill`: stops every app (SIGINT, then SIGKILL after its kill_timeout) and the daemon. */
  kill(): Promise<Pm2Result>;
}

/** `env` is the whole environment of the pm2 CLI (and so of its daemon and apps), plus PM2_HOME. */
export function pm2(home: string, env: Record<string, string>): Pm2 {
  const run = (args: string[], timeoutMs = 120_000): Promise<Pm2Result> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], {
        cwd: REPO_ROOT,
        env: { ...env, PM2_HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`pm2 ${args.join(' ')} took more than ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  return {
    home,
    run,
    async list() {
      const { code, output } = await run(['jlist']);
      if (code !== 0) throw new Error(`pm2 jlist failed:\n${output}`);
      const processes = JSON.parse(output.slice(output.indexOf('['))) as {
        name: string;
        pid: number;
        pm2_env: { status: string; restart_time: number };
      }[];
      return processes.map((p) => ({ name: p.name, pid: p.pid, status: p.pm2_env.status, restarts: p.pm2_env.restart_time }));
    },
    daemonLog() {
      const file = join(home, 'pm2.log');
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    kill: () => run(['kill']),
  };
}

function hold(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/**
 * The first of `count` consecutive free loopback ports (the production profile puts connectors on
 * consecutive ports). Probed below the usual ephemeral range (32768+), where outgoing connections
 * do not take ports between the probe and the bind.
 */
export async function freeConsecutivePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const held: Server[] = [];
    for (let i = 0; i < count; i++) {
      const server = await hold(base + i);
      if (!server) break;
      held.push(server);
    }
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
    if (held.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
