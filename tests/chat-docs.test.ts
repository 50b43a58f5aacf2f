/**
 * docs/protocols/chat.md runs as written: each fenced block marked `example` (`js example`: a Node
 * script with the stock socket.io client; `sh example`: curl against logic) is run in page order
 * against a started stack, and what it prints must match the `json output` block after it, one
 * JSON value per line. A string `"<…>"` in the output stands for a value the reader cannot know
 * (a token, an id); the same placeholder twice in one block must be the same value.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@herald/test-support';
import { ADMIN_PASSWORD, startStack, type Stack } from './support/stack';

const run = promisify(execFile);
let stack: Stack;

interface Example {
  readonly kind: 'js' | 'sh';
  readonly code: string;
  readonly output: string;
  /** Line of the page where the example starts, for the test's name. */
  readonly line: number;
}

/** The examples of the page, each with the output block that follows it. */
function examples(page: string): Example[] {
  const blocks = [...page.matchAll(/^( *)```(\S+)(?: (\S+))?\n([\s\S]*?)^\1```$/gm)].map((m) => ({
    lang: m[2]!,
    tag: m[3],
    body: m[4]!.split('\n').map((line) => line.slice(m[1]!.length)).join('\n'),
    line: page.slice(0, m.index).split('\n').length,
  }));
  const out: Example[] = [];
  blocks.forEach((block, i) => {
    if (block.tag !== 'example') return;
    const next = blocks[i + 1];
    if (!next || next.lang !== 'json' || next.tag !== 'output') throw new Error(`example at line ${block.line} has no json output block after it`);
    out.push({ kind: block.lang === 'sh' ? 'sh' : 'js', code: block.body, output: next.body, line: block.line });
  });
  return out;
}

/** Whether `actual` is what `expected` shows; placeholders bind in `seen`. */
function matches(expected: unknown, actual: unknown, seen: Map<string, unknown>): boolean {
  if (typeof expected === 'string' && /^<.+>$/.test(expected)) {
    if (actual === null || typeof actual === 'object' || actual === undefined) return false;
    if (!seen.has(expected)) seen.set(expected, actual);
    return seen.get(expected) === actual;
  }
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(e, actual[i], seen));
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    return keys.length === Object.keys(actual).length && keys.every((key) => matches((expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], seen));
  }
  return expected === actual;
}

const page = readFileSync(join(REPO_ROOT, 'docs', 'protocols', 'chat.md'), 'utf8');
const all = examples(page);

beforeAll(async () => {
  stack = await startStack({ connectors: 1, env: { HERALD_SOCKET_PATHS: '/socket.io,/wechat=/chat' } });
});
afterAll(async () => {
  expect(await stack.stop()).toEqual([0, 0]);
});

test('the page has its examples: namespace, logIn, direct, replay, device, conversation, REST push', () => {
  expect(all.map((e) => e.kind)).toEqual(['sh', 'js', 'js', 'js', 'sh', 'js', 'sh']);
});

test.each(all.map((example) => [example.line, example] as const))('the example at line %i prints what the page shows', async (_line, example) => {
  const code = example.code
    .replaceAll('http://localhost:21314', `http://127.0.0.1:${stack.connectors[0]!.port}`)
    .replaceAll('http://localhost:10002', `http://127.0.0.1:${stack.logic.port}`);
  const options = { cwd: REPO_ROOT, timeout: 10_000, env: { ...process.env, HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD } };
  const { stdout } = example.kind === 'js' ? await run(process.execPath, ['-e', code], options) : await run('bash', ['-c', code], options);
  const printed = stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown);
  const expected = example.output.trim().split('\n').map((line) => JSON.parse(line) as unknown);
  const seen = new Map<string, unknown>();
  expect({ printed, ok: matches(expected, printed, seen) }).toEqual({ printed, ok: true });
});
