/**
 * `npm start` end to end (scripts/start.mjs): it runs Redis and the three services under
 * pm2-runtime, answers /health on the connector and logic ports, and SIGTERM stops every process
 * it started — Redis included — with exit code 0, leaving nothing listening.
 *
 * Each start gets its own HERALD_HOME in a temporary directory, so the developer's `.herald/`
 * (Redis data, admin password, pm2 sockets) is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { REPO_ROOT, freePort, isListening, startRedis, until } from '@herald/test-support';
import { cleanEnv } from './support/env';

jest.setTimeout(120_000);

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Stack {
  readonly child: ChildProcess;
  readonly home: string;
  readonly connectorPort: number;
  readonly logicPort: number;
  readonly exited: Promise<Exit>;
  /** What start.mjs and pm2-runtime (with the services' pino lines) printed on stdout so far. */
  stdout(): string;
  /** stdout, then stderr: for failure messages. */
  output(): string;
}

let stack: Stack | undefined;

/** `[herald] redis: redis://127.0.0.1:<port> (pid <pid>, data in …)` */
const REDIS_LINE = /redis: redis:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)/;

async function start(extraEnv: Record<string, string>): Promise<Stack> {
  const home = mkdtempSync(join(tmpdir(), 'herald-start-'));
  const connectorPort = await freePort();
  let logicPort = await freePort();
  while (logicPort === connectorPort) logicPort = await freePort();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], {
    cwd: REPO_ROOT,
    env: {
      ...cleanEnv(),
      HERALD_HOME: home,
      HERALD_CONNECTOR_PORT: String(connectorPort),
      HERALD_LOGIC_PORT: String(logicPort),
      // Not the default 10003: two stacks on one machine must not fight over the worker's port.
      HERALD_WORKER_PORT: '0',
      HERALD_LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  stack = { child, home, connectorPort, logicPort, exited, stdout: () => stdout, output: () => `${stdout}\n--- stderr ---\n${stderr}` };
  return stack;
}

/** Polls `GET /health` until it answers `hello`; fails at once with the output if start.mjs exits. */
function healthy(s: Stack, port: number): Promise<true> {
  return until(
    async () => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        throw new Error(`start.mjs exited (${s.child.exitCode ?? s.child.signalCode}) before port ${port} was up:\n${s.output()}`);
      }
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        return (await response.text()) === 'hello' ? true : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    60_000,
    100,
  );
}

function match(s: Stack, pattern: RegExp): RegExpExecArray {
  const found = pattern.exec(s.stdout());
  if (!found) throw new Error(`no line matching ${pattern} in:\n${s.output()}`);
  return found;
}

/** The JSON (pino) lines the services printed so far, through pm2-runtime. */
function serviceLogs(s: Stack): Array<{ pid?: unknown; msg?: unknown }> {
  const lines = [];
  for (const line of s.stdout().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as { pid?: unknown; msg?: unknown });
    } catch {
      // a line still being written
    }
  }
  return lines;
}

/** Pids of the private redis-server and of the services seen so far. */
function pidsStarted(s: Stack): number[] {
  const pids = new Set<number>();
  const redis = REDIS_LINE.exec(s.stdout());
  if (redis) pids.add(Number(redis[2]));
  for (const { pid } of serviceLogs(s)) if (typeof pid === 'number') pids.add(pid);
  return [...pids];
}

/** `/proc/<pid>/stat` is `pid (comm) state ppid …`; comm may hold spaces and parentheses. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** A process that exited but was not reaped yet (a zombie) counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  return !(existsSync(stat) && / Z /.test(readFileSync(stat, 'utf8')));
}

function isPm2Runtime(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pm2-runtime');
  } catch {
    return false;
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The three services logged `ready` (the worker listens on nothing: this is how its pid is known). */
function allReady(s: Stack): Promise<true> {
  return until(async () => (serviceLogs(s).filter((line) => line.msg === 'ready').length >= 3 ? true : undefined), 30_000, 100);
}

/** SIGTERM, then asserts exit 0 within 15 s and that nothing it started still runs or listens. */
async function stopAndCheck(s: Stack): Promise<void> {
  await allReady(s);
  const [, redisPort, redisPid] = match(s, REDIS_LINE);
  const pids = pidsStarted(s);
  expect(pids).toContain(Number(redisPid));
  expect(pids.length).toBeGreaterThanOrEqual(4); // redis + connector + logic + worker

  s.child.kill('SIGTERM');
  expect(await within(s.exited, 15_000, 'stopping npm start')).toEqual({ code: 0, signal: null });

  for (const port of [s.connectorPort, s.logicPort, Number(redisPort)]) expect(await isListening(port)).toBe(false);
  expect(pids.filter(alive)).toEqual([]);
}

afterEach(async () => {
  const s = stack;
  stack = undefined;
  if (!s) return;
  // A failed test may leave the stack up: stop it the normal way, then by force.
  if (s.child.exitCode === null && s.child.signalCode === null) {
    s.child.kill('SIGTERM');
    await within(s.exited, 30_000, 'stopping npm start after a failure').catch(() => {
      const pids = pidsStarted(s);
      // pm2-runtime (the services' parent) first, or it would restart them.
      const parents = pids.map(parentOf).filter((pid): pid is number => pid !== undefined && isPm2Runtime(pid));
      for (const pid of [...new Set(parents), ...pids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      s.child.kill('SIGKILL');
    });
  }
  rmSync(s.home, { recursive: true, force: true });
});

test('npm start serves both ports, and SIGTERM stops everything it started, Redis included', async () => {
  const s = await start({ HERALD_ADMIN_PASSWORD: 'test-admin-password' });
  await healthy(s, s.connectorPort);
  await healthy(s, s.logicPort);
  expect(s.output()).not.toContain('test-admin-password');
  expect(existsSync(join(s.home, 'admin-password'))).toBe(false);
  await stopAndCheck(s);
});

test('without HERALD_ADMIN_PASSWORD it generates one into HERALD_HOME, and the printed curl example works', async () => {
  const s = await start({});
  await healthy(s, s.logicPort);

  const [, file, password] = match(s, /admin password \(in (\S+)\): (\S+)\n/);
  expect(file).toBe(join(s.home, 'admin-password'));
  expect(readFileSync(file!, 'utf8')).toBe(`${password}\n`);
  expect(statSync(file!).mode & 0o777).toBe(0o600);

  // try: curl -u admin:<pw> -H 'content-type: application/json' -d '<body>' <url>
  const [, user, curlPassword, body, url] = match(s, /try: curl -u ([^:\s]+):(\S+) -H '[^']+' -d '([^']+)' (\S+)\n/);
  expect(curlPassword).toBe(password);
  expect(url).toBe(`http://127.0.0.1:${s.logicPort}/api/admin/namespace/save`);
  const response = await fetch(url!, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'content-type': 'application/json' },
    body,
  });
  expect(response.status).toBe(200);

  // The admin console's address, beside the password.
  const [, consoleUrl] = match(s, /admin console: (\S+) \(log in as admin with the admin password\)\n/);
  expect(consoleUrl).toBe(`http://127.0.0.1:${s.logicPort}/push-admin/`);
  const page = await fetch(consoleUrl!);
  expect([page.status, await page.text()]).toEqual([200, expect.stringContaining('<title>Herald console</title>')]);

  await stopAndCheck(s);
});

test('with HERALD_REDIS_URL it runs no Redis of its own, uses that one, and Ctrl-C (SIGINT) leaves it running', async () => {
  const external = await startRedis();
  const client = new Redis(external.url);
  try {
    const s = await start({ HERALD_ADMIN_PASSWORD: 'test-admin-password', HERALD_REDIS_URL: external.url });
    await healthy(s, s.connectorPort);
    await healthy(s, s.logicPort);
    await allReady(s);
    expect(s.stdout()).toContain('[herald] redis: using HERALD_REDIS_URL\n');
    expect(REDIS_LINE.test(s.stdout())).toBe(false);
    // The connector registered itself in that Redis.
    expect(await client.zcard('h:connectors')).toBe(1);
    const pids = pidsStarted(s);
    expect(pids.length).toBeGreaterThanOrEqual(3);

    s.child.kill('SIGINT');
    expect(await within(s.exited, 15_000, 'stopping npm start')).toEqual({ code: 0, signal: null });
    for (const port of [s.connectorPort, s.logicPort]) expect(await isListening(port)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
    // The operator's Redis is not npm start's to stop; the connector left its registry on the way out.
    expect(await client.ping()).toBe('PONG');
    expect(await client.zcard('h:connectors')).toBe(0);
  } finally {
    client.disconnect();
    await external.stop();
  }
});
