/**
 * docs/protocols/roomsync.md's runnable examples (fenced blocks whose info string is `sh runnable`
 * or `js runnable`) run, in the page's order, against a started Herald — logic and a connector
 * serving `/` of `/socket.io` as the page's namespace — and print what the block after each says:
 * a `json` or `text` block, where `<token>` stands for a 24-character token and `<time>` for a
 * number. The token printed by the first `create_token` is `$TOKEN` for the later examples.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, until } from '@herald/test-support';
import { ADMIN_PASSWORD, startStack, type Stack } from './support/stack';

const run = promisify(execFile);
const PAGE = join(REPO_ROOT, 'docs', 'protocols', 'roomsync.md');

interface Example {
  readonly lang: 'sh' | 'js';
  readonly code: string;
  readonly expected: string | undefined;
  readonly line: number;
}

/** The runnable blocks of the page, each with the output block that follows it. */
function examples(markdown: string): Example[] {
  const blocks = [...markdown.matchAll(/^[ \t]*```([^\n]*)\n([\s\S]*?)^[ \t]*```[ \t]*$/gm)].map((m) => ({
    info: m[1]!.trim(),
    // Blocks inside a list item are indented: drop the item's indentation.
    body: m[2]!.replace(new RegExp(`^${/^[ \t]*/.exec(m[0])![0]}`, 'gm'), ''),
    line: markdown.slice(0, m.index).split('\n').length,
  }));
  const out: Example[] = [];
  blocks.forEach((block, i) => {
    const [lang, flag] = block.info.split(/\s+/);
    if (flag !== 'runnable') return;
    const after = blocks[i + 1];
    const expected = after && ['json', 'text'].includes(after.info) ? after.body.trim() : undefined;
    out.push({ lang: lang as 'sh' | 'js', code: block.body, expected, line: block.line });
  });
  return out;
}

/** The documented output as a pattern: literal text, `<token>` and `<time>` placeholders. */
function pattern(expected: string): RegExp {
  const escaped = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/<token>/g, '[A-Za-z0-9]{24}').replace(/<time>/g, '\\d+')}$`);
}

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ connectors: 1, env: { HERALD_SOCKET_PATHS: '/socket.io=/chatroom' } });
}, 60_000);

afterAll(async () => {
  expect(await stack.stop()).toEqual([0, 0]);
});

test('every runnable example of docs/protocols/roomsync.md prints what the page says', async () => {
  const list = examples(readFileSync(PAGE, 'utf8'));
  expect(list.map((e) => e.lang)).toEqual(['sh', 'sh', 'sh', 'js', 'sh', 'sh', 'sh']);
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    LOGIC: `http://127.0.0.1:${stack.logic.port}`,
    CONNECTOR: `http://127.0.0.1:${stack.connectors[0]!.port}`,
    HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD,
  };
  for (const example of list) {
    const { stdout } = example.lang === 'sh'
      ? await run('bash', ['-euo', 'pipefail', '-c', example.code], { env, timeout: 15_000 })
      : await run(process.execPath, ['-e', example.code], { env, cwd: REPO_ROOT, timeout: 15_000 });
    const output = stdout.trim();
    if (example.expected !== undefined) {
      if (!pattern(example.expected).test(output)) throw new Error(`line ${example.line}: printed\n${output}\nexpected\n${example.expected}`);
    }
    env['TOKEN'] ??= /"token":"([A-Za-z0-9]{24})"/.exec(output)?.[1] ?? '';
    if (env['TOKEN'] === '') delete env['TOKEN'];
    // A client example's socket is gone on the server too before the next example runs.
    if (example.lang === 'js') {
      const stat = async () => (await stack.api('/admin/monitor/stat?uid=ops&token=change-me-to-a-long-random-string')).body.data.online_user_count;
      await until(async () => ((await stat()) === 0 ? true : undefined), 5000);
    }
  }
  expect(env['TOKEN']).toMatch(/^[A-Za-z0-9]{24}$/);
}, 60_000);
