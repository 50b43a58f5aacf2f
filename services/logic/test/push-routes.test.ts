/**
 * `POST /api/auth/push` and `/push/batch` through the app: the batch route's own validation and
 * answers, the `Idempotency-Key` header (bad keys, concurrent retries), and the failed-authentication
 * limit that the push script checks for credentials logic already verified.
 */
import { Keys } from '@herald/store';
import { AUTH_FAILURE_LIMIT } from '../src/plugins/auth';
import { startTestApp, type TestApp } from './support/test-app';

const keys = new Keys('h:');
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const ADMIN = basic('admin', 'admin-password');
const DEMO = basic('/demo', 'pw');
let testApp: TestApp;

async function call(url: string, payload: unknown, headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') {
  const response = await testApp.app.inject({ method: 'POST', url, headers: { authorization: DEMO, ...headers }, payload: payload as object, remoteAddress });
  return { status: response.statusCode, body: response.json() as any };
}
const seq = async () => Number(await testApp.redis.get(keys.messageSeq('/demo')));

beforeAll(async () => {
  testApp = await startTestApp('admin-password', { HERALD_PUSH_BATCH_MAX: '3' });
  await testApp.app.inject({ method: 'POST', url: '/api/admin/namespace/save', headers: { authorization: ADMIN }, payload: { key: '/demo', auth_passwd: 'pw' } });
  await testApp.redis.sadd(keys.roomOnline('/demo', 'r1'), 'c1', 'c2');
});
afterAll(() => testApp.close());

describe('POST /api/auth/push/batch', () => {
  test('each push is answered on its own, in request order, with the single route’s catalogue errors', async () => {
    const before = await seq();
    const answer = await call('/api/auth/push/batch', [
      { room: 'r1', pushData: { n: 1 }, except: 'c2' },
      { room: 'r1', pushData: 'text' },
      { room: 'r2', pushData: {}, colour: 'red' },
    ]);
    expect(answer).toEqual({
      status: 200,
      body: [
        { id: before + 1, expectAckCount: 1 },
        { code: 'PUSH_DATA_INVALID', msg: 'pushData can not be empty and must be an Object' },
        { code: 'UNKNOWN_FIELD', msg: 'unknown field: colour' },
      ],
    });
    expect(await seq()).toBe(before + 1);
    expect(await testApp.redis.hget(keys.message('/demo', before + 1), 'except')).toBe('c2');
  });

  test('not an array, empty, or above HERALD_PUSH_BATCH_MAX: PUSH_BATCH_INVALID, nothing stored', async () => {
    const before = await seq();
    const invalid = { status: 400, body: { code: 'PUSH_BATCH_INVALID', msg: 'push batch must be a JSON array of 1 to HERALD_PUSH_BATCH_MAX pushes' } };
    const push = { room: 'r1', pushData: {} };
    expect(await call('/api/auth/push/batch', push)).toEqual(invalid);
    for (const scalar of ['"text"', '5', 'null', 'true']) {
      const response = await testApp.app.inject({ method: 'POST', url: '/api/auth/push/batch', headers: { authorization: DEMO, 'content-type': 'application/json' }, payload: scalar });
      expect({ scalar, status: response.statusCode, body: response.json() }).toEqual({ scalar, ...invalid });
    }
    expect(await call('/api/auth/push/batch', [])).toEqual(invalid);
    expect(await call('/api/auth/push/batch', [push, push, push, push])).toEqual(invalid);
    expect(await seq()).toBe(before);
    expect((await call('/api/auth/push/batch', [push, push, push])).body).toHaveLength(3);
  });
});

describe('Idempotency-Key', () => {
  test('an empty, too long or badly formed key is a 400 and pushes nothing; 255 visible characters are fine', async () => {
    const before = await seq();
    const invalid = { status: 400, body: { code: 'IDEMPOTENCY_KEY_INVALID', msg: 'Idempotency-Key must be 1 to 255 visible ASCII characters' } };
    const push = { room: 'r1', pushData: {} };
    for (const key of ['', 'x'.repeat(256), 'a b', 'é', 'tab\there']) {
      expect(await call('/api/auth/push', push, { 'idempotency-key': key })).toEqual(invalid);
      expect(await call('/api/auth/push/batch', [push], { 'idempotency-key': key })).toEqual(invalid);
    }
    expect(await seq()).toBe(before);
    expect((await call('/api/auth/push', push, { 'idempotency-key': '~'.repeat(255) })).status).toBe(200);
  });

  test('concurrent requests with one key: one push stored, every answer the same', async () => {
    const before = await seq();
    const body = { room: 'r1', pushData: { text: 'once' }, leaveMessage: true };
    const answers = await Promise.all(Array.from({ length: 8 }, () => call('/api/auth/push', body, { 'idempotency-key': 'concurrent-1' })));
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify({ status: 200, body: { id: before + 1, expectAckCount: 2 } })]));
    expect(await seq()).toBe(before + 1);
  });

  test('the same key on the batch route answers the whole first batch; a changed batch is a 422', async () => {
    const batch = [{ room: 'r1', pushData: { n: 1 } }, { room: '', pushData: {} }, { room: 'r2', pushData: { n: 2 } }];
    const first = await call('/api/auth/push/batch', batch, { 'idempotency-key': 'batch-1' });
    const before = await seq();
    expect(await call('/api/auth/push/batch', batch, { 'idempotency-key': 'batch-1' })).toEqual(first);
    expect(first.body[1]).toEqual({ code: 'ROOM_EMPTY', msg: 'room can not be empty' });
    expect(await call('/api/auth/push/batch', batch.slice(0, 2), { 'idempotency-key': 'batch-1' })).toEqual({
      status: 422,
      body: { code: 'IDEMPOTENCY_KEY_REUSED', msg: 'Idempotency-Key was already used with another request body' },
    });
    expect(await seq()).toBe(before);
  });
});

test('an address over its failed-authentication limit gets 429 on both push routes, also with credentials logic already verified, and nothing is pushed', async () => {
  const address = '10.1.2.3';
  // The credentials are verified (and remembered) before the address is blocked.
  expect((await call('/api/auth/push', { room: 'r1', pushData: {} }, {}, address)).status).toBe(200);
  for (let i = 0; i < AUTH_FAILURE_LIMIT; i++) {
    const failed = await testApp.app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: basic('/demo', 'wrong') }, payload: {}, remoteAddress: address });
    expect(failed.statusCode).toBe(401);
  }
  const before = await seq();
  const limited = { status: 429, body: { code: 'TOO_MANY_ATTEMPTS', msg: 'too many failed attempts, retry later' } };
  expect(await call('/api/auth/push', { room: 'r1', pushData: {} }, {}, address)).toEqual(limited);
  expect(await call('/api/auth/push/batch', [{ room: 'r1', pushData: {} }], {}, address)).toEqual(limited);
  expect(await call('/api/auth/push/batch', [{ room: '', pushData: {} }], {}, address)).toEqual(limited);
  expect(await seq()).toBe(before);
  // A wrong password or an unknown namespace from there is refused before any check of it.
  const probe = await testApp.app.inject({ method: 'POST', url: '/api/auth/push', headers: { authorization: basic('/nope', 'x') }, payload: {}, remoteAddress: address });
  expect(probe.statusCode).toBe(429);
  expect((await call('/api/auth/push', { room: 'r1', pushData: {} }, {}, '10.1.2.4')).status).toBe(200);
});
