/**
 * Which address a failed authentication counts against (HERALD_TRUSTED_PROXIES): the peer, unless the
 * peer is a listed proxy, in which case the client its X-Forwarded-For names.
 */
import { Keys } from '@herald/store';
import { startTestApp, type TestApp } from './support/test-app';

const keys = new Keys('h:');
const wrong = 'Basic ' + Buffer.from('/demo:wrong').toString('base64');

let defaults: TestApp;
let balanced: TestApp;

beforeAll(async () => {
  defaults = await startTestApp('admin-password');
  balanced = await startTestApp('admin-password', { HERALD_TRUSTED_PROXIES: '10.1.0.0/16' });
});
afterAll(async () => {
  await defaults.close();
  await balanced.close();
});

async function failFrom(test: TestApp, remoteAddress: string, forwardedFor: string): Promise<string[]> {
  const response = await test.app.inject({
    method: 'GET',
    url: '/api/auth/report/push',
    headers: { authorization: wrong, 'x-forwarded-for': forwardedFor },
    remoteAddress,
  });
  expect(response.statusCode).toBe(400); // no namespace /demo: still a failed authentication
  return (await test.redis.keys(keys.authFailures('*'))).sort();
}

test('by default only a proxy on this host may name the client', async () => {
  expect(await failFrom(defaults, '127.0.0.1', '203.0.113.9')).toEqual([keys.authFailures('203.0.113.9')]);
  // A peer elsewhere cannot choose the address its failures count against.
  expect(await failFrom(defaults, '10.1.2.3', '203.0.113.10')).toEqual([keys.authFailures('10.1.2.3'), keys.authFailures('203.0.113.9')]);
});

test('a listed balancer range is trusted, and nothing else', async () => {
  expect(await failFrom(balanced, '10.1.2.3', '198.51.100.7')).toEqual([keys.authFailures('198.51.100.7')]);
  expect(await failFrom(balanced, '127.0.0.1', '198.51.100.8')).toEqual([keys.authFailures('127.0.0.1'), keys.authFailures('198.51.100.7')]);
});
