/**
 * docs/api.md's examples are executable: every ```api block there is run, in order, against a fresh
 * logic on its own Redis, and must answer exactly what the document shows. A block is
 *
 *   METHOD /path
 *   authorization: user:password        (optional; sent as HTTP Basic)
 *   name: value                         (optional; any other request header, e.g. idempotency-key)
 *   <JSON body>                         (optional)
 *
 *   <status>
 *   <JSON or text body>                 (optional; "<number>" / "<string>" match any of that type)
 *
 * and an ```api-setup block `client <nsp> <userid> <platform> <uuid> <room>…` creates, between two
 * examples, the records a connector writes when such a client connects and joins those rooms.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLATFORMS, type Platform } from '@herald/wire';
import { ClientStore, Keys, RoomStore, Scripts } from '@herald/store';
import { startTestApp, type TestApp } from './support/test-app';
import { servedRoutes } from './support/served-routes';

interface Example {
  readonly method: string;
  readonly path: string;
  readonly user: string | undefined;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly status: number;
  readonly answer: string | undefined;
  readonly source: string;
}

const DOC = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'api.md'), 'utf8');

function parse(block: string): Example {
  const [request, response] = block.trim().split(/\n\s*\n/) as [string, string];
  const lines = request.split('\n');
  const [method, path] = lines[0]!.trim().split(/\s+/) as [string, string];
  let user: string | undefined;
  const headers: Record<string, string> = {};
  const body: string[] = [];
  for (const line of lines.slice(1)) {
    const auth = /^authorization:\s*(.+)$/.exec(line.trim());
    const header = /^([a-z][a-z-]*):\s*(.+)$/.exec(line.trim());
    if (auth) user = auth[1];
    else if (header && body.length === 0) headers[header[1]!] = header[2]!;
    else body.push(line);
  }
  const [status, ...answer] = response.trim().split('\n');
  return {
    method,
    path,
    user,
    headers,
    body: body.length ? body.join('\n') : undefined,
    status: Number(status),
    answer: answer.length ? answer.join('\n') : undefined,
    source: block.trim(),
  };
}

interface Setup {
  readonly namespace: string;
  readonly userid: string;
  readonly platform: Platform;
  readonly uuid: string;
  readonly rooms: readonly string[];
  readonly source: string;
}

function parseSetup(block: string): Setup {
  const [kind, namespace, userid, platform, uuid, ...rooms] = block.trim().split(/\s+/);
  if (kind !== 'client' || !namespace || !userid || !uuid || !(PLATFORMS as readonly string[]).includes(platform ?? '')) {
    throw new Error(`docs/api.md: unreadable api-setup block: ${block}`);
  }
  return { namespace, userid, platform: platform as Platform, uuid, rooms, source: block.trim() };
}

type Step = { readonly example: Example } | { readonly setup: Setup };

/** Every example and setup block of the document, in document order. */
const STEPS: Step[] = [...DOC.matchAll(/```(api|api-setup)\n([\s\S]*?)```/g)].map((m) =>
  m[1] === 'api' ? { example: parse(m[2]!) } : { setup: parseSetup(m[2]!) },
);
const EXAMPLES = STEPS.flatMap((s) => ('example' in s ? [s.example] : []));

/** What a connector writes when the client connects and joins its rooms (connector.ts). */
async function runSetup(test: TestApp, setup: Setup): Promise<void> {
  const keys = new Keys('h:');
  const scripts = new Scripts(test.redis);
  const clientId = `${setup.namespace}#${setup.userid}#${setup.platform}-${setup.uuid}`;
  await new ClientStore(test.redis, keys, scripts).connected(clientId, {
    namespace: setup.namespace,
    userid: setup.userid,
    uuid: setup.uuid,
    platform: setup.platform,
    sid: 'docs-example',
    connector: 'docs-example',
  });
  const rooms = new RoomStore(test.redis, keys, scripts);
  for (const room of setup.rooms) await rooms.join(setup.namespace, room, { clientId, userid: setup.userid, platform: setup.platform }, 'sid-1');
}

/** Replaces "<number>" / "<string>" placeholders of the expected value by matchers. */
function expected(value: unknown): unknown {
  if (value === '<number>') return expect.any(Number);
  if (value === '<string>') return expect.any(String);
  if (Array.isArray(value)) return value.map(expected);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]));
  return value;
}

let testApp: TestApp;
beforeAll(async () => {
  testApp = await startTestApp('admin-password');
});
afterAll(() => testApp.close());


test('docs/api.md has an example for every route the app serves', () => {
  const routes = servedRoutes(testApp.app.printRoutes({ commonPrefix: false }));
  // The tree was read: nested routes and their parents are there.
  expect(routes).toEqual(expect.arrayContaining([
    { method: 'GET', pattern: '/api/auth/report/push' },
    { method: 'GET', pattern: '/api/auth/report/push/:id' },
    { method: 'GET', pattern: '/api/auth/namespace/current-message-stat' },
    { method: 'OPTIONS', pattern: '*' },
  ]));
  expect(routes.length).toBeGreaterThanOrEqual(24);
  const missing = routes.filter(({ method, pattern }) => {
    const re = new RegExp(`^${pattern.replace(/:[^/]+/g, '[^/]+').replace('*', '.*')}$`);
    return !EXAMPLES.some((e) => e.method === method && re.test(e.path.split('?')[0]!));
  });
  expect(missing).toEqual([]);
});

const STEP_NAMES = STEPS.map((s) => ('example' in s ? `${s.example.method} ${s.example.path} → ${s.example.status}` : `setup: ${s.setup.source}`));

test.each(STEPS.map((step, i) => [STEP_NAMES[i]!, step] as const))('%s', async (_name, step) => {
  if ('setup' in step) return runSetup(testApp, step.setup);
  const example = step.example;
  const response = await testApp.app.inject({
    method: example.method as 'GET' | 'POST' | 'OPTIONS',
    url: example.path,
    headers: {
      ...example.headers,
      ...(example.user ? { authorization: 'Basic ' + Buffer.from(example.user).toString('base64') } : {}),
      ...(example.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(example.body !== undefined ? { payload: example.body } : {}),
  });
  expect({ status: response.statusCode, example: example.source }).toEqual({ status: example.status, example: example.source });
  if (example.answer === undefined) return;
  let want: unknown;
  try {
    want = JSON.parse(example.answer);
  } catch {
    expect(response.body).toBe(example.answer);
    return;
  }
  expect(response.json()).toEqual(expected(want));
});
