/**
 * A private nginx for the deployment test: deploy/nginx/herald.conf rendered by scripts/nginx-conf.mjs
 * (the operator's command), wrapped in a main config whose pid file, logs and temp directories are
 * in a temporary prefix, run in the foreground (`daemon off`) and stopped by the test.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, isListening, until } from '@herald/test-support';

/** The nginx binary: the one `npm test` ensured (HERALD_NGINX), else `scripts/nginx.mjs ensure` now. */
export function nginxBinary(): string {
  const chosen = process.env['HERALD_NGINX'];
  if (chosen) return chosen;
  const ensured = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'nginx.mjs'), 'ensure'], { encoding: 'utf8' });
  if (ensured.status !== 0) throw new Error(`no nginx for the deployment test:\n${ensured.stderr}`);
  return ensured.stdout.trim();
}

/** `node scripts/nginx-conf.mjs` with `env` (the same variables pm2 got, plus HERALD_NGINX_*). */
export function renderNginxConf(env: Record<string, string>): string {
  return execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'nginx-conf.mjs')], { env, encoding: 'utf8' });
}

/** Writes `<dir>/nginx.conf`: a main config around `<dir>/herald.conf` with everything under `dir`. */
export function writeMainConf(dir: string, heraldConf: string): string {
  for (const sub of ['logs', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'herald.conf'), heraldConf);
  const main = join(dir, 'nginx.conf');
  writeFileSync(
    main,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'logs', 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${join(dir, 'tmp', kind)};`),
      `  include ${join(dir, 'herald.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  return main;
}

/** `nginx -t` on a main config: its exit code and what it printed. */
export function nginxTest(binary: string, dir: string, main: string): { code: number | null; output: string } {
  const result = spawnSync(binary, ['-t', '-p', dir, '-c', main], { encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** One line of the `herald` access log format. */
export interface AccessLine {
  readonly method: string;
  readonly uri: string;
  readonly status: number;
  readonly uuid: string;
  /** Every upstream tried, in order (nginx lists several when it passed the request on). */
  readonly upstreams: string[];
}

export interface PrivateNginx {
  readonly port: number;
  readonly child: ChildProcess;
  accessLog(): AccessLine[];
  stop(): Promise<void>;
}

const LINE = /"(\S+) (\S+)" (\d+) \d+ \S+ uuid="([^"]*)" upstream=(.*)$/;

/** Starts nginx on a main config from writeMainConf; resolves once `port` accepts connections. */
export async function startNginx(binary: string, dir: string, main: string, port: number): Promise<PrivateNginx> {
  const child = spawn(binary, ['-p', dir, '-c', main], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const errorLog = () => (existsSync(join(dir, 'logs', 'error.log')) ? readFileSync(join(dir, 'logs', 'error.log'), 'utf8') : '');
  await until(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited before listening:\n${stderr}\n${errorLog()}`);
      return (await isListening(port)) ? true : undefined;
    },
    20_000,
    50,
  );
  return {
    port,
    child,
    accessLog() {
      const file = join(dir, 'logs', 'access.log');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => LINE.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ method: m[1]!, uri: m[2]!, status: Number(m[3]), uuid: m[4]!, upstreams: m[5]!.split(', ') }));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM: fast shutdown of the master and its workers.
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killOnExit);
    },
  };
}
