import { Keys } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from './support/test-app';

let testApp: TestApp;
let app: FastifyInstance;
let redis: Redis;
const ADMIN_PASSWORD = 'admin-password-for-tests';

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const admin = basic('admin', ADMIN_PASSWORD);
const auth = basic('/demo', 'pw:with:colons');

beforeAll(async () => {
  testApp = await startTestApp(ADMIN_PASSWORD);
  ({ app, redis } = testApp);
  const saved = await app.inject({ method: 'POST', url: '/api/admin/namespace/save', headers: { authorization: admin }, payload: { key: '/demo', auth_passwd: 'pw:with:colons' } });
  expect(saved.statusCode).toBe(200);
});
afterAll(async () => {
  await testApp.close();
});

/**
 * Every key in Redis, to prove a refused request changed nothing. The rate limiter's failure
 * counters are left out: counting a failed authentication is their purpose.
 */
async function snapshot(): Promise<string[]> {
  return (await redis.keys('*')).filter((key) => !key.startsWith('h:authfail:')).sort();
}

describe('namespace Basic auth (/api/auth/*)', () => {
  test.each([
    ['missing', undefined, 400, 'NEED_AUTHORIZATION', 'need authorization'],
    ['unknown namespace', basic('/nope', 'x'), 400, 'NAMESPACE_NOT_FOUND', 'namespace not found'],
    ['wrong password', basic('/demo', 'pw'), 401, 'PASSWD_ERROR', 'passwd error'],
    ['not base64', 'Basic %%%', 400, 'NEED_AUTHORIZATION', 'need authorization: malformed Basic credentials'],
    ['no colon', 'Basic ' + Buffer.from('/demo').toString('base64'), 400, 'NEED_AUTHORIZATION', 'need authorization: malformed Basic credentials'],
  ])('%s', async (_name, authorization, status, code, msg) => {
    const before = await snapshot();
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/push',
      headers: authorization ? { authorization } : {},
      payload: { room: 'r1', pushData: {} },
    });
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ code, msg });
    expect(await snapshot()).toEqual(before);
  });

  test('right password (with ":" inside), with or without the "Basic " prefix', async () => {
    for (const authorization of [auth, auth.slice('Basic '.length)]) {
      const response = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { authorization } });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({});
    }
  });
});

describe('admin auth (/api/admin/*)', () => {
  test.each([
    ['missing', undefined, 400, 'need authorization'],
    ['wrong password', basic('admin', 'nope'), 401, 'auth error'],
    ['wrong name', basic('root', ADMIN_PASSWORD), 401, 'auth error'],
  ])('%s', async (_name, authorization, status, msg) => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/admin/namespace/save',
      headers: authorization ? { authorization } : {},
      payload: { key: '/x' },
    });
    expect(response.statusCode).toBe(status);
    expect(response.json().msg).toBe(msg);
    expect(await redis.exists('h:ns:/x')).toBe(0);
  });
});

describe('POST /api/admin/namespace/save', () => {
  test.each([
    [{}, 'KEY_IS_NULL', 'key is null'],
    [{ key: 'demo' }, 'NAMESPACE_INVALID', 'namespace invalid'],
    [{ key: '/a b' }, 'NAMESPACE_INVALID', 'namespace invalid'],
    [{ key: '/x', offline: true }, 'BODY_INVALID', 'request body invalid: /offline must be string'],
    [{ key: '/x', connect_callback: 'ftp://x' }, 'BODY_INVALID', expect.stringContaining('/connect_callback')],
    [{ key: '/x', colour: 'red' }, 'BODY_INVALID', 'request body invalid: / has unknown field "colour"'],
  ])('%j → %s', async (payload, code, msg) => {
    const before = await snapshot();
    const response = await app.inject({ method: 'POST', url: '/api/admin/namespace/save', headers: { authorization: admin }, payload });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code, msg });
    expect(await snapshot()).toEqual(before);
  });
});

describe('request shape errors are 4xx with a catalogue body, never 5xx', () => {
  test.each([
    ['malformed JSON', '{"room":', 'application/json', 400, 'JSON_INVALID'],
    ['__proto__ key', '{"room":"r1","pushData":{},"__proto__":{"x":1}}', 'application/json', 400, 'JSON_INVALID'],
    ['text body', 'room=r1', 'text/plain', 415, 'CONTENT_TYPE_INVALID'],
    ['oversized body', JSON.stringify({ room: 'r1', pushData: { x: 'y'.repeat(300 * 1024) } }), 'application/json', 413, 'BODY_TOO_LARGE'],
  ])('%s', async (_name, payload, contentType, status, code) => {
    const before = await snapshot();
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/push',
      headers: { authorization: auth, 'content-type': contentType },
      payload,
    });
    expect(response.statusCode).toBe(status);
    expect(response.json().code).toBe(code);
    expect(await snapshot()).toEqual(before);
  });

  test('unknown route → 404 ROUTE_NOT_FOUND', async () => {
    const response = await app.inject({ method: 'GET', url: '/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 'ROUTE_NOT_FOUND', msg: 'route not found' });
  });
});

test('CORS preflight is answered 200 without credentials, as the seed admin SPA expects', async () => {
  const response = await app.inject({ method: 'OPTIONS', url: '/api/auth/push', headers: { origin: 'https://admin.example' } });
  expect(response.statusCode).toBe(200);
  expect(response.headers['access-control-allow-origin']).toBe('https://admin.example');
  expect(response.headers['access-control-allow-credentials']).toBe('true');
  expect(response.headers['access-control-allow-headers']).toContain('Authorization');
});

describe('push and report', () => {
  test('a push is stored with its report; the report reads numbers as numbers', async () => {
    const pushed = await app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: auth }, payload: { room: 'r1', pushData: { a: 1, apsData: { aps: {} } }, expire: 2 } });
    expect(pushed.statusCode).toBe(200);
    const { id, expectAckCount } = pushed.json();
    expect(expectAckCount).toBe(0);
    const report = await app.inject({ url: `/api/auth/report/push/${id}?ackDetail=true`, headers: { authorization: auth } });
    expect(report.statusCode).toBe(200);
    expect(report.json()).toMatchObject({
      id,
      namespace: '/demo',
      room: 'r1',
      pushData: { a: 1, apsData: { aps: {} } },
      expire: 2,
      leaveMessage: false,
      onlineClientCount: 0,
      ackCount: 0,
      ackIOSCount: 0,
      ackAndroidCount: 0,
      apnsCount: 0,
      apnsSuccessCount: 0,
      ackIOSDetail: [],
      ackAndroidDetail: [],
      ackWebDetail: [],
      truncated: false,
    });
  });

  test('leaveMessage schedules the delayed offline job, even with no worker running', async () => {
    const pushed = await app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: auth }, payload: { room: 'r1', pushData: {}, leaveMessage: true } });
    const { id } = pushed.json();
    const job = await redis.hgetall(`h:q:offline:offline|/demo|${id}`);
    expect(JSON.parse(job['data']!)).toEqual({ namespace: '/demo', id });
    expect(Number(job['delay'])).toBe(5000);
  });

  test.each([['abc'], ['0'], ['999999']])('report of id %s → 400 this id not exists', async (id) => {
    const response = await app.inject({ url: `/api/auth/report/push/${id}`, headers: { authorization: auth } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code: 'ID_NOT_EXISTS', msg: 'this id not exists' });
  });

  test('an expired message: its report is "this id not exists" and the history skips it', async () => {
    const pushed = await app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: auth }, payload: { room: 'gone', pushData: {} } });
    const { id } = pushed.json();
    const key = new Keys('h:').message('/demo', id);
    expect(await redis.exists(key)).toBe(1);
    await redis.pexpire(key, 1); // Redis expires it, as it would after `expire` hours
    while ((await redis.exists(key)) === 1) await new Promise((resolve) => setImmediate(resolve));
    const report = await app.inject({ url: `/api/auth/report/push/${id}`, headers: { authorization: auth } });
    expect(report.statusCode).toBe(400);
    expect(report.json()).toEqual({ code: 'ID_NOT_EXISTS', msg: 'this id not exists' });
    const history = await app.inject({ url: '/api/auth/report/push?size=500', headers: { authorization: auth } });
    expect(history.json().map((r: { id: number }) => r.id)).not.toContain(id);
  });

  test('unknown query parameters are refused', async () => {
    const response = await app.inject({ url: '/api/auth/report/push/1?foo=1', headers: { authorization: auth } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code: 'QUERY_INVALID', msg: 'request query invalid: unknown parameter foo' });
  });
});
