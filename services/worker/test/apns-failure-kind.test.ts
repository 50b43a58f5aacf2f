/**
 * How the delivery report names APNs failures (apnsFailures in GET /api/auth/report/push/:id): a
 * bounded set of names, so that an outage with changing error texts cannot grow a report field per
 * text.
 */
import { failureKind, verdictOf } from '../src/apns/apns-processor';

const failed = (status: number | undefined, reason: string) => ({ token: 't', ok: false as const, status, reason, timestamp: undefined });

test.each([
  [failed(400, 'BadDeviceToken'), 'BadDeviceToken', 'final'],
  [failed(410, 'Unregistered'), 'Unregistered', 'final'],
  [failed(413, 'PayloadTooLarge'), 'PayloadTooLarge', 'final'],
  [failed(429, 'TooManyRequests'), 'TooManyRequests', 'retry'],
  [failed(403, 'BadCertificate'), 'BadCertificate', 'retry'],
  [failed(undefined, 'connect ECONNREFUSED 127.0.0.1:44321'), 'NoAnswer', 'retry'],
  [failed(undefined, 'unable to verify the first certificate'), 'NoAnswer', 'retry'],
  [failed(500, 'status 500'), 'Status500', 'retry'],
  [failed(400, 'not a word: <script>'), 'Status400', 'final'],
] as const)('%j counts as %s (%s)', (result, kind, verdict) => {
  expect(failureKind(result)).toBe(kind);
  expect(verdictOf(result)).toBe(verdict);
});

test('two outages with different error texts count under one name', () => {
  const a = failureKind(failed(undefined, 'connect ECONNREFUSED 127.0.0.1:1111'));
  const b = failureKind(failed(undefined, 'read ECONNRESET'));
  expect(new Set([a, b]).size).toBe(1);
});
