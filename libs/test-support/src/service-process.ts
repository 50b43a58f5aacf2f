import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** Repository root: libs/test-support/{src,dist}/ → ../../.. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export type Role = 'connector' | 'logic' | 'worker';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A built Herald service running as a child process, as pm2 would run it. */
export interface ServiceProcess {
  readonly role: Role;
  readonly child: ChildProcess;
  /** The port it listens on (connector, logic; the worker's `/health` and `/metrics` port). */
  readonly port: number;
  /** Every JSON log line so far; non-JSON output is kept in `raw`. */
  readonly logs: LogLine[];
  readonly raw: string[];
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartServiceOptions {
  /** Environment of the child on top of a minimal base (PATH, HOME). */
  readonly env: Record<string, string>;
  /** How long the service may take to log `ready`. @default 20000 */
  readonly readyTimeoutMs?: number;
}

/**
 * Spawns `node services/<role>/dist/main.js` and resolves when it logged `ready`. The child gets
 * only the environment it is given (plus PATH/HOME), so a developer's HERALD_* variables cannot leak
 * into a test.
 */
export function startService(role: Role, options: StartServiceOptions): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'services', role, 'dist', 'main.js')], {
    cwd: REPO_ROOT,
    // A worker's HTTP port defaults to 10003: tests take a free one, so that stacks never collide.
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', HERALD_LOG_LEVEL: 'info', HERALD_WORKER_PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const raw: string[] = [];
  const waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let pending = '';
  const onLine = (text: string) => {
    if (!text.trim()) return;
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      raw.push(text);
      return;
    }
    logs.push(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  child.stderr!.on('data', (chunk: Buffer) => raw.push(chunk.toString()));

  const exitPromise = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const found = logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolveLine, reject) => {
      const waiter = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolveLine(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`${role}: no matching log line within ${timeoutMs} ms; output:\n${describe()}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  const describe = () => [...logs.map((l) => JSON.stringify(l)), ...raw].slice(-40).join('\n');

  return new Promise((resolveService, reject) => {
    const onEarlyExit = (code: number | null) =>
      reject(new Error(`${role} exited (${code}) before it was ready; output:\n${describe()}`));
    child.once('exit', onEarlyExit);
    waitForLog((l) => l.msg === 'ready', options.readyTimeoutMs ?? 20_000).then(
      (line) => {
        child.off('exit', onEarlyExit);
        resolveService({
          role,
          child,
          port: typeof line['port'] === 'number' ? line['port'] : 0,
          logs,
          raw,
          waitForLog,
          async stop(signal: NodeJS.Signals = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exitPromise;
          },
        });
      },
      (error: unknown) => {
        child.kill('SIGKILL');
        reject(error);
      },
    );
  });
}
