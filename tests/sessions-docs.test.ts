/**
 * docs/protocols/sessions.md is executable: its `example` blocks run in document order against a
 * started stack (a connector serving `/socket` as `/yunity`, logic, a worker) and the application's
 * own redis-server, with that stack's hosts and ports. Shell blocks must print what their `# →`
 * line shows; the seed client block runs as a node process and must print each `I got a message!`
 * line the page shows, in order.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, redisCliBinary, startRedis, startService, until, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { ADMIN, ADMIN_PASSWORD, startStack, type Stack } from './support/stack';

const run = promisify(execFile);
const PAGE = readFileSync(join(REPO_ROOT, 'docs', 'protocols', 'sessions.md'), 'utf8');

/** The page's `example=<name>` blocks (indented ones inside list items included), by name. */
const EXAMPLES = new Map(
  [...PAGE.matchAll(/^([ \t]*)```(sh|js) example=(\S+)\n([\s\S]*?)^[ \t]*```/gm)].map((m) => {
    const indent = m[1]!.length;
    return [m[3]!, m[4]!.split('\n').map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length))).join('\n')] as const;
  }),
);
/** What the page says the client prints, in order. */
const PRINTED = [...PAGE.matchAll(/```\n(I got a message! .*)\n```/g)].map((m) => m[1]!);

let stack: Stack;
let worker: ServiceProcess;
let app: TestRedis;
let client: ChildProcess | undefined;
const printed: string[] = [];

function localize(code: string): string {
  return code
    .replaceAll('http://127.0.0.1:10002', `http://127.0.0.1:${stack.logic.port}`)
    .replaceAll('127.0.0.1:21314', `127.0.0.1:${stack.connectors[0]!.port}`)
    // The page's application Redis (the default port of a local one) is the test's own server.
    .replace(/redis:\/\/127\.0\.0\.1:\d+\/0/g, `${app.url}/0`)
    .replace(/^redis-cli /gm, `${redisCliBinary()} -p ${app.port} `);
}

/** `"<string>"`, `"<number>"`, `"<object>"` in the page stand for any such value. */
function expected(value: unknown): unknown {
  if (value === '<string>') return expect.any(String);
  if (value === '<number>') return expect.any(Number);
  if (value === '<object>') return expect.any(Object);
  if (Array.isArray(value)) return value.map(expected);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]));
  return value;
}

async function runShell(name: string): Promise<void> {
  const code = EXAMPLES.get(name);
  expect(code).toBeDefined();
  const shown = /^# → (.*)$/m.exec(code!)?.[1];
  const { stdout } = await run('sh', ['-c', localize(code!)], { env: { PATH: process.env['PATH'] ?? '', HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  const output = stdout.trim();
  let parsed: unknown = output;
  try {
    parsed = JSON.parse(output);
  } catch {
    // not JSON: compared as text
  }
  expect(parsed).toEqual(expected(shown === undefined ? undefined : /^[[{]/.test(shown) ? JSON.parse(shown) : /^\d+$/.test(shown) ? Number(shown) : shown));
}

function waitPrinted(count: number): Promise<true> {
  return until(async () => (printed.length >= count ? true : undefined), 10_000);
}

beforeAll(async () => {
  app = await startRedis();
  stack = await startStack({ connectors: 1, env: { HERALD_SOCKET_PATHS: '/socket.io,/socket=/yunity' } });
  worker = await startService('worker', { env: stack.env });
}, 60_000);

afterAll(async () => {
  if (client && client.exitCode === null) {
    const exited = new Promise((resolve) => client!.once('exit', resolve));
    client.kill('SIGTERM');
    await exited;
  }
  const codes = await Promise.all([worker?.stop(), stack?.stop()]);
  await app?.stop();
  expect(codes).toEqual([0, [0, 0]]);
}, 30_000);

test('the page has the examples this test runs', () => {
  expect([...EXAMPLES.keys()]).toEqual(['save', 'client', 'session', 'publish', 'publish-head', 'rest-push', 'connections']);
  expect(PRINTED).toHaveLength(3);
});

test('the examples, in order: save, session, the seed client, both notification forms, a REST push, the admin view', async () => {
  await runShell('save');
  await runShell('session');

  client = spawn(process.execPath, ['-e', localize(EXAMPLES.get('client')!)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let pending = '';
  client.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    printed.push(...lines.filter((line) => line.trim() !== ''));
  });
  // The client answers nothing on `authenticate`: the admin view shows when it is bound.
  await until(async () => {
    const answer = await stack.api('/api/admin/namespace/connections/yunity', { auth: ADMIN });
    return answer.body.connections?.some((c: { userId: string }) => c.userId === 'user5') ? true : undefined;
  }, 10_000);

  await runShell('publish');
  await waitPrinted(1);
  await runShell('publish-head');
  await waitPrinted(2);
  await runShell('rest-push');
  await waitPrinted(3);
  expect(printed).toEqual(PRINTED);

  await runShell('connections');
}, 40_000);
