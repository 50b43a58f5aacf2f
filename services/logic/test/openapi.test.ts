/**
 * The OpenAPI document logic serves is generated from the route schemas: every route the app serves
 * is in it, it validates against the OpenAPI 3.1 schema (@seriousme/openapi-schema-validator, run as
 * its CLI because the package is ESM only), and /api/docs serves Swagger UI from logic itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from './support/test-app';
import { servedRoutes } from './support/served-routes';

let testApp: TestApp;
let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, unknown> } };

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }>;
}

beforeAll(async () => {
  testApp = await startTestApp('admin-password');
  const response = await testApp.app.inject({ url: '/api/openapi.json' });
  expect(response.statusCode).toBe(200);
  doc = response.json();
});
afterAll(() => testApp.close());


test('every route the app serves is in the document (but the CORS preflight and the UI\'s own files)', () => {
  const routes = servedRoutes(testApp.app.printRoutes({ commonPrefix: false })).filter(
    ({ method, pattern }) => !(method === 'OPTIONS' && pattern === '*') && !pattern.startsWith('/api/docs') && !pattern.startsWith('/push-admin'),
  );
  expect(routes.length).toBeGreaterThanOrEqual(24);
  const missing = routes.filter(({ method, pattern }) => !doc.paths[pattern.replace(/:([^/]+)/g, '{$1}')]?.[method.toLowerCase()]);
  expect(missing).toEqual([]);
  const documented = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  expect(documented).toBe(routes.length);
});

test('the document is valid OpenAPI 3.1', () => {
  expect(doc.openapi).toBe('3.1.0');
  const dir = mkdtempSync(join(tmpdir(), 'herald-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = require.resolve('@seriousme/openapi-schema-validator/bin/validate-api-cli.js');
    let output: string;
    try {
      output = execFileSync(process.execPath, [cli, file], { encoding: 'utf8' });
    } catch (error) {
      output = (error as { stdout?: string }).stdout ?? String(error);
    }
    expect(JSON.parse(output)).toEqual({ valid: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Basic-auth security schemes: /api/auth/* asks for the namespace, /api/admin/* for the operator', () => {
  expect(doc.components.securitySchemes).toEqual({
    namespace: expect.objectContaining({ type: 'http', scheme: 'basic' }),
    admin: expect.objectContaining({ type: 'http', scheme: 'basic' }),
  });
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const operation of Object.values(operations)) {
      const scheme = path.startsWith('/api/auth/') ? 'namespace' : path.startsWith('/api/admin/') ? 'admin' : undefined;
      expect({ path, security: operation.security }).toEqual({ path, security: scheme ? [{ [scheme]: [] }] : undefined });
    }
  }
});

test('every API route documents its catalogue errors as {code, msg}; fields name the error they are refused with', () => {
  for (const [path, operations] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/auth/') && !path.startsWith('/api/admin/')) continue;
    for (const operation of Object.values(operations)) {
      for (const status of ['400', '401', '429', '500', '503']) {
        const schema = operation.responses[status]?.content?.['application/json']?.schema;
        expect({ path, status, fields: Object.keys(schema?.properties ?? {}) }).toEqual({ path, status, fields: ['code', 'msg'] });
      }
    }
  }
  const push = doc.paths['/api/auth/push']!['post']!;
  const room = push.requestBody!.content['application/json']!.schema['properties'] as Record<string, Record<string, unknown>>;
  expect(room['room']).toMatchObject({ 'x-herald-error': 'ROOM_INVALID', 'x-herald-empty': 'ROOM_EMPTY' });
  expect(JSON.stringify(push.responses['400'])).toContain('ROOM_EMPTY');
});

test('/api/docs serves Swagger UI from logic itself: no external asset', async () => {
  const page = await testApp.app.inject({ url: '/api/docs/' });
  expect(page.statusCode).toBe(200);
  expect(page.headers['content-type']).toContain('text/html');
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(assets.length).toBeGreaterThan(0);
  for (const asset of assets) {
    expect(asset).not.toMatch(/^(https?:)?\/\//);
    expect((await testApp.app.inject({ url: new URL(asset, 'http://logic/api/docs/').pathname })).statusCode).toBe(200);
  }
  const init = await testApp.app.inject({ url: '/api/docs/static/swagger-initializer.js' });
  // Comments aside (one links a Q&A page), the script names no URL outside logic.
  expect(init.body.replace(/^\s*\/\/.*$/gm, '')).not.toMatch(/https?:\/\//);
});

test('the examples of docs/api.md are in the document, and current (npm run docs:openapi-examples)', () => {
  const script = join(__dirname, '..', '..', '..', 'scripts', 'gen-openapi-examples.mjs');
  expect(execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8' })).toContain('is current');
  const push = doc.paths['/api/auth/push']!['post']! as Operation & { requestBody: { content: Record<string, { examples?: Record<string, { value: unknown }> }> } };
  const requests = Object.values(push.requestBody.content['application/json']!.examples ?? {}).map((e) => e.value);
  expect(requests).toContainEqual({ room: 'r1', pushData: { hello: 'world' } });
  const refused = (push.responses['400']!.content!['application/json'] as { examples?: Record<string, { value: unknown }> }).examples ?? {};
  expect(Object.values(refused).map((e) => e.value)).toContainEqual({ code: 'ROOM_EMPTY', msg: 'room can not be empty' });
});
