/**
 * docs/protocols/webservice.md is executable: its ```api blocks (docs/api.md's format) run in order
 * against a started Herald, its ```js client block runs as a node program (the seed README's client)
 * against a connector, and each ```text <name> block is what that program must have printed by
 * then. The page's site (`https://app.example`) is a small server of the test answering `auth_url`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startService, until, type ServiceProcess } from '@herald/test-support';
import { basic } from './support/clients';
import { startStack, type Stack } from './support/stack';
import { startSite, type Site } from './support/webservice';

const DOC = readFileSync(join(REPO_ROOT, 'docs', 'protocols', 'webservice.md'), 'utf8');

type Block = { kind: 'api'; text: string } | { kind: 'client'; text: string } | { kind: 'output'; name: string; text: string };

/** Every runnable block, in document order (indented blocks of lists included). */
const BLOCKS: Block[] = [...DOC.matchAll(/^( *)```(api|js client|text [\w-]+)\n([\s\S]*?)^\1```/gm)].map((m) => {
  const text = m[3]!.replace(new RegExp(`^${m[1]}`, 'gm'), '');
  if (m[2] === 'api') return { kind: 'api', text };
  if (m[2] === 'js client') return { kind: 'client', text };
  return { kind: 'output', name: m[2]!.slice('text '.length), text };
});

/** "<number>" / "<string>" placeholders match any value of that type. */
function expected(value: unknown): unknown {
  if (value === '<number>') return expect.any(Number);
  if (value === '<string>') return expect.any(String);
  if (Array.isArray(value)) return value.map(expected);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]));
  return value;
}

let stack: Stack;
let worker: ServiceProcess;
let site: Site;
let client: ChildProcess | undefined;
let printed = '';

/** The page names the site `https://app.example` and a connector on 127.0.0.1:21314. */
function localize(text: string): string {
  return text.replaceAll('https://app.example', site.url).replaceAll('http://127.0.0.1:21314', `http://127.0.0.1:${stack.connectors[0]!.port}`);
}

async function runApi(block: string): Promise<void> {
  const [request, response] = block.trim().split(/\n\s*\n/) as [string, string];
  const [first, ...rest] = request.split('\n');
  const [method, path] = first!.trim().split(/\s+/) as [string, string];
  const headers: Record<string, string> = {};
  const body: string[] = [];
  for (const line of rest) {
    const auth = /^authorization:\s*(.+)$/.exec(line.trim());
    if (auth) {
      const [user, password] = auth[1]!.split(':') as [string, string];
      headers['authorization'] = basic(user, password);
    } else body.push(line);
  }
  if (body.length) headers['content-type'] = 'application/json';
  const answer = await fetch(`http://127.0.0.1:${stack.logic.port}${path}`, { method, headers, ...(body.length ? { body: localize(body.join('\n')) } : {}) });
  const text = await answer.text();
  const [status, ...want] = response.trim().split('\n');
  expect({ request: first, status: answer.status }).toEqual({ request: first, status: Number(status) });
  if (want.length === 0) return;
  const wanted = localize(want.join('\n'));
  let json: unknown;
  try {
    json = JSON.parse(wanted);
  } catch {
    expect(text).toBe(wanted);
    return;
  }
  expect(JSON.parse(text)).toEqual(expected(json));
}

beforeAll(async () => {
  site = await startSite();
  stack = await startStack({ connectors: 2, env: { HERALD_ADMIN_PASSWORD: 'admin-password' } });
  worker = await startService('worker', { env: stack.env });
});

afterAll(async () => {
  client?.kill('SIGTERM');
  if (worker) expect(await worker.stop()).toBe(0);
  await stack?.stop();
  await site?.close();
});

test('the page has runnable examples: api requests, the client program and its output', () => {
  expect(BLOCKS.filter((b) => b.kind === 'api').length).toBeGreaterThanOrEqual(6);
  expect(BLOCKS.filter((b) => b.kind === 'client')).toHaveLength(1);
  expect(BLOCKS.filter((b) => b.kind === 'output').map((b) => (b as { name: string }).name)).toEqual(['connected', 'after-send']);
});

test('every example of docs/protocols/webservice.md answers what the page shows', async () => {
  // What the page says the site answers for its token.
  site.rooms.set('12345', ['user_1', 'staff']);
  for (const block of BLOCKS) {
    if (block.kind === 'api') {
      await runApi(block.text);
    } else if (block.kind === 'client') {
      client = spawn(process.execPath, ['-e', localize(block.text)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      client.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      client.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    } else {
      const want = block.text.trim();
      await until(async () => (printed.includes(want) ? true : undefined), 10000).catch(() => {
        throw new Error(`the client printed ${JSON.stringify(printed)}, the page shows ${JSON.stringify(want)} (${block.name})`);
      });
    }
  }
});
