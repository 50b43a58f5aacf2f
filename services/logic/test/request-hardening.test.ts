/**
 * Inputs that used to slip through or were answered outside the catalogue (issue 12): callbacks to
 * Herald's own host or with credentials, display names with control or bidi characters, client
 * settings with line breaks, deeply nested JSON, and the refusals fastify and Node's HTTP parser
 * make before a route runs. Every refusal is a catalogue `{code, msg}` and changes nothing.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ClientStore, Keys, Scripts } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { startTestApp, type TestApp } from './support/test-app';

const ADMIN_PASSWORD = 'admin-password-for-tests';
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const admin = basic('admin', ADMIN_PASSWORD);
const demo = basic('/demo', 'pw');
const keys = new Keys('h:');

let testApp: TestApp;
let app: FastifyInstance;
let redis: Redis;

async function call(method: 'GET' | 'POST', url: string, auth: string, payload?: unknown) {
  const response = await app.inject({ method, url, headers: { authorization: auth }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: response.statusCode, body: response.json() as unknown };
}

async function snapshot(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await redis.keys('h:*')).sort()) {
    const type = await redis.type(key);
    out[key] = type === 'hash' ? await redis.hgetall(key) : type === 'string' ? await redis.get(key) : type;
  }
  return out;
}

/** Writes raw bytes to the listening app and resolves with everything it answers. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(text) : reject(error)));
  });
}

function bodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

beforeAll(async () => {
  testApp = await startTestApp(ADMIN_PASSWORD);
  ({ app, redis } = testApp);
  expect((await call('POST', '/api/admin/namespace/save', admin, { key: '/demo', auth_passwd: 'pw' })).status).toBe(200);
});
afterAll(async () => {
  await testApp.close();
});

describe('callbacks in namespace saves', () => {
  test.each([
    ['connect_callback with credentials', { connect_callback: 'https://user:secret@example.com/cb' }, 'request body invalid: /connect_callback must be an http(s) URL without credentials, or ""'],
    ['disconnect_callback with a user only', { disconnect_callback: 'http://user@example.com/cb' }, 'request body invalid: /disconnect_callback must be an http(s) URL without credentials, or ""'],
    ['callback_auth with CR/LF', { callback_auth: 'Bearer x\r\nX-Injected: 1' }, 'request body invalid: /callback_auth must not contain CR, LF or NUL'],
    ['callback_auth with NUL', { callback_auth: 'Bearer x\u0000' }, 'request body invalid: /callback_auth must not contain CR, LF or NUL'],
  ])('%s → BODY_INVALID, nothing changes, no secret echoed', async (_label, fields, msg) => {
    const before = await snapshot();
    for (const [route, auth, body] of [
      ['/api/admin/namespace/save', admin, { key: '/demo', ...fields }],
      ['/api/auth/namespace/save', demo, fields],
    ] as const) {
      const answer = await call('POST', route, auth, body);
      expect(answer).toEqual({ status: 400, body: { code: 'BODY_INVALID', msg } });
      expect(JSON.stringify(answer)).not.toContain('secret');
    }
    expect(await snapshot()).toEqual(before);
  });

  test.each([
    'http://127.0.0.1:8080/cb',
    'http://127.1.2.3/cb',
    'http://localhost/cb',
    'http://[::1]/cb',
    'http://[::ffff:127.0.0.1]/cb',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fe80::1]/cb',
    'http://0.0.0.0/cb',
    'http://2130706433/cb',
  ])('a callback to %s is refused with CALLBACK_URL_INVALID (HERALD_CALLBACK_ALLOW_PRIVATE unset)', async (url) => {
    const before = await snapshot();
    expect(await call('POST', '/api/auth/namespace/save', demo, { connect_callback: url })).toEqual({
      status: 400,
      body: { code: 'CALLBACK_URL_INVALID', msg: 'callback url refused: connect_callback: loopback, link-local and metadata addresses are refused' },
    });
    expect((await call('POST', '/api/admin/namespace/save', admin, { key: '/demo', disconnect_callback: url })).body).toMatchObject({ code: 'CALLBACK_URL_INVALID' });
    expect(await snapshot()).toEqual(before);
  });

  test('private networks (RFC 1918) and public hosts are accepted', async () => {
    for (const url of ['http://10.0.0.5/cb', 'http://192.168.1.10:8080/cb', 'http://172.16.0.1/cb', 'https://example.com/cb']) {
      expect(await call('POST', '/api/auth/namespace/save', demo, { connect_callback: url })).toEqual({ status: 200, body: {} });
    }
  });

  test('with HERALD_CALLBACK_ALLOW_PRIVATE=true, loopback callbacks are accepted', async () => {
    const allowing = await startTestApp(ADMIN_PASSWORD, { HERALD_CALLBACK_ALLOW_PRIVATE: 'true' });
    try {
      const response = await allowing.app.inject({
        method: 'POST',
        url: '/api/admin/namespace/save',
        headers: { authorization: admin },
        payload: { key: '/loop', connect_callback: 'http://127.0.0.1:8080/cb' },
      });
      expect(response.statusCode).toBe(200);
    } finally {
      await allowing.close();
    }
  });
});

describe('display names', () => {
  test.each([
    ['RLO (U+202E)', 'admin\u202Egnp.exe'],
    ['LRI (U+2066)', 'a\u2066b'],
    ['RLM (U+200F)', 'a\u200Fb'],
    ['LF', 'line\nforged'],
    ['NUL', 'a\u0000b'],
    ['C1 (U+0085)', 'a\u0085b'],
  ])('a namespace name with %s is refused, nothing changes', async (_label, name) => {
    const before = await snapshot();
    expect(await call('POST', '/api/admin/namespace/save', admin, { key: '/demo', name })).toEqual({
      status: 400,
      body: { code: 'BODY_INVALID', msg: 'request body invalid: /name must not contain control or bidi characters' },
    });
    expect((await call('POST', '/api/auth/namespace/save', demo, { name })).status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  test('other scripts and emoji are fine', async () => {
    expect((await call('POST', '/api/auth/namespace/save', demo, { name: 'Démo 演示 مرحبا 🚀' })).status).toBe(200);
  });
});

describe('POST /api/auth/client refuses control characters as the socket info event does', () => {
  const clientId = '/demo#u1#ios-d1';
  beforeAll(async () => {
    await new ClientStore(redis, keys, new Scripts(redis)).connected(clientId, { namespace: '/demo', userid: 'u1', uuid: 'd1', platform: 'ios', sid: 's1', connector: 'test' });
  });

  test.each([
    ['device_token', 'abc\r\ndef', 'device_token must be a string of at most 512 characters'],
    ['device_token', 'abc\u0000', 'device_token must be a string of at most 512 characters'],
    ['system', 'ios\n17', 'system must be a string of at most 128 characters'],
    ['mobile', '1\r2', 'mobile must be a string of at most 32 characters'],
  ])('%s %j → BODY_INVALID, nothing changes', async (field, value, detail) => {
    const before = await snapshot();
    expect(await call('POST', '/api/auth/client', demo, { id: clientId, [field]: value })).toEqual({ status: 400, body: { code: 'BODY_INVALID', msg: `request body invalid: ${detail}` } });
    expect(await snapshot()).toEqual(before);
  });
});

describe('deeply nested JSON', () => {
  test('pushData nested 5 000 levels → 400 JSON_TOO_DEEP, nothing stored', async () => {
    const before = await snapshot();
    const payload = `{"room":"r1","pushData":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const response = await app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: demo, 'content-type': 'application/json' }, payload });
    expect({ status: response.statusCode, body: response.json() }).toEqual({ status: 400, body: { code: 'JSON_TOO_DEEP', msg: 'body nested too deeply' } });
    expect(await snapshot()).toEqual(before);
  });

  test('a nesting of 64 levels is still a push', async () => {
    const payload = `{"room":"r1","pushData":${'{"a":'.repeat(63)}1${'}'.repeat(63)}}`;
    const response = await app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: demo, 'content-type': 'application/json' }, payload });
    expect(response.statusCode).toBe(200);
  });
});

describe('refusals before a route runs are catalogue bodies too', () => {
  test('a long valid clientId is found on GET /api/auth/client/:id', async () => {
    const userid = 'u'.repeat(100);
    const uuid = 'd#'.repeat(50);
    const clientId = `/demo#${userid}#android-${uuid}`;
    await new ClientStore(redis, keys, new Scripts(redis)).connected(clientId, { namespace: '/demo', userid, uuid, platform: 'android', sid: 's2', connector: 'test' });
    const answer = await call('GET', `/api/auth/client/${encodeURIComponent(clientId)}`, demo);
    expect(answer).toMatchObject({ status: 200, body: { userid, platform: 'android' } });
  });

  test('a path parameter above the router limit → 414 URL_TOO_LONG', async () => {
    expect(await call('GET', `/api/auth/client/${'x'.repeat(3000)}`, demo)).toEqual({ status: 414, body: { code: 'URL_TOO_LONG', msg: 'request url too long' } });
  });

  test('a clientId too long for Herald but within the router limit → 400 client not found', async () => {
    expect(await call('GET', `/api/auth/client/${'x'.repeat(500)}`, demo)).toEqual({ status: 400, body: { code: 'CLIENT_NOT_FOUND', msg: 'client not found' } });
  });

  test('a parameter that does not URL-decode → 400 URL_INVALID', async () => {
    expect(await call('GET', '/api/auth/client/%E0%A4%A', demo)).toEqual({ status: 400, body: { code: 'URL_INVALID', msg: 'request url invalid' } });
  });

  test('a text body → 415, a body above the limit → 413', async () => {
    const text = await app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: demo, 'content-type': 'text/plain' }, payload: 'hello' });
    expect({ status: text.statusCode, body: text.json() }).toEqual({ status: 415, body: { code: 'CONTENT_TYPE_INVALID', msg: 'content-type must be application/json' } });
    const big = await app.inject({
      method: 'POST',
      url: '/api/auth/push',
      headers: { authorization: demo, 'content-type': 'application/json' },
      payload: JSON.stringify({ room: 'r1', pushData: { x: 'x'.repeat(300 * 1024) } }),
    });
    expect({ status: big.statusCode, body: big.json() }).toEqual({ status: 413, body: { code: 'BODY_TOO_LARGE', msg: 'request body too large' } });
  });

  describe('on a listening server', () => {
    let port: number;
    beforeAll(async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      port = (app.server.address() as AddressInfo).port;
    });

    test('headers above the HTTP parser limit → 431 HEADERS_TOO_LARGE', async () => {
      const answer = await raw(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
      expect(answer.startsWith('HTTP/1.1 431 ')).toBe(true);
      expect(bodyOf(answer)).toEqual({ code: 'HEADERS_TOO_LARGE', msg: 'request headers too large' });
    });

    test('malformed HTTP → 400 HTTP_INVALID', async () => {
      const answer = await raw(port, 'NOT HTTP AT ALL\r\n\r\n');
      expect(answer.startsWith('HTTP/1.1 400 ')).toBe(true);
      expect(bodyOf(answer)).toEqual({ code: 'HTTP_INVALID', msg: 'malformed HTTP request' });
    });
  });
});
