/**
 * Basic Auth takes the same time however close a guess is (issue 7, security checks). Timing is
 * sampled in process (no network noise), the classes interleaved round by round so that a load
 * spike hits them all alike, and compared by their medians: robust to the outliers of a busy
 * machine. The spread (slowest median / fastest median) must stay under SPREAD_LIMIT; the same
 * statistic is run on a plain `===` as a control, and must catch it, so the test can fail.
 */
import { Errors, HeraldError } from '@herald/wire';
import { safeEqual, authenticateAdmin } from '../src/plugins/auth';
import { startTestApp, type TestApp } from './support/test-app';
import type { FastifyRequest } from 'fastify';

/** Slowest median over fastest median allowed among the classes. */
const SPREAD_LIMIT = 1.25;
/** The longest admin password the configuration accepts (8 to 256 characters). */
const ADMIN_PASSWORD = 'p'.repeat(255) + 'x';
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
/** A fresh (not interned) copy of a string, as a decoded header would be. */
const fresh = (text: string) => Buffer.from(text).toString();

type Classes = Record<string, () => unknown>;

/** Median time (ns) of each class, `batch` calls per sample, classes interleaved each round. */
async function medians(classes: Classes, rounds: number, batch: number): Promise<Record<string, number>> {
  const names = Object.keys(classes);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so that no class always runs right after another.
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length]!;
      const run = classes[name]!;
      const started = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) await run();
      samples[name]!.push(Number(process.hrtime.bigint() - started) / batch);
    }
  }
  return Object.fromEntries(names.map((n) => [n, samples[n]!.sort((a, b) => a - b)[samples[n]!.length >> 1]!]));
}

const spread = (m: Record<string, number>) => Math.max(...Object.values(m)) / Math.min(...Object.values(m));
const show = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${Math.round(v)} ns`).join(', ');

test('the credential compare: wrong at the first byte, wrong at the last byte and right take the same time; a plain === does not', async () => {
  // A long secret makes a byte-by-byte compare visible: 16 KiB.
  const secret = fresh('s'.repeat(16_383) + 'x');
  const guesses = { wrongFirstByte: fresh('t' + secret.slice(1)), wrongLastByte: fresh(secret.slice(0, -1) + 'y'), right: fresh(secret) };
  const classesOf = (compare: (a: string, b: string) => boolean): Classes =>
    Object.fromEntries(Object.entries(guesses).map(([name, guess]) => [name, () => compare(guess, secret)]));

  const constant = await medians(classesOf(safeEqual), 2000, 10);
  const plain = await medians(classesOf((a, b) => a === b), 2000, 10);
  console.log(`auth timing, compare of a 16 KiB secret: safeEqual ${show(constant)} (spread ${spread(constant).toFixed(3)}); === ${show(plain)} (spread ${spread(plain).toFixed(2)})`);
  expect(spread(constant)).toBeLessThan(SPREAD_LIMIT);
  // The control: the statistic sees a variable-time compare.
  expect(spread(plain)).toBeGreaterThan(2 * SPREAD_LIMIT);
}, 60_000);

test('admin Basic Auth: wrong user, wrong password (first or last byte) and right credentials take the same time', async () => {
  const password = ADMIN_PASSWORD;
  const request = (user: string, pass: string) => ({ headers: { authorization: basic(user, pass) } }) as FastifyRequest;
  // A refusal throws and a success does not, a difference the answer shows anyway: every class
  // throws here so that only the checking of the credentials is compared.
  const attempt = (r: FastifyRequest) => () => {
    try {
      authenticateAdmin(r, 'admin', password);
      throw new HeraldError(Errors.AUTH_ERROR);
    } catch {
      // What matters is how long it took.
    }
  };
  expect(() => authenticateAdmin(request('admin', password), 'admin', password)).not.toThrow();
  expect(() => authenticateAdmin(request('admin', password.slice(0, -1) + 'y'), 'admin', password)).toThrow(HeraldError);
  const times = await medians(
    {
      wrongUser: attempt(request('admim', password)),
      wrongFirstByte: attempt(request('admin', 'q' + password.slice(1))),
      wrongLastByte: attempt(request('admin', password.slice(0, -1) + 'y')),
      right: attempt(request('admin', password)),
    },
    2000,
    10,
  );
  console.log(`auth timing, authenticateAdmin with a 256-character password: ${show(times)} (spread ${spread(times).toFixed(3)})`);
  expect(spread(times)).toBeLessThan(SPREAD_LIMIT);
}, 60_000);

describe('through the whole route (fastify inject, rate limiter included)', () => {
  const password = ADMIN_PASSWORD;
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp(password);
  });
  afterAll(async () => {
    await testApp.close();
  });

  test('a wrong user and a wrong password (first or last byte) are refused in the same time', async () => {
    // Every request from its own address: the failure limit (20 per address) never answers 429
    // without checking the credentials, which would hide the compare.
    let n = 0;
    const address = () => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n++ & 255}`;
    const refused = (authorization: string) => async () => {
      const response = await testApp.app.inject({ method: 'GET', url: '/api/admin/namespace/list', headers: { authorization }, remoteAddress: address() });
      if (response.statusCode !== 401) throw new Error(`expected 401, got ${response.statusCode} ${response.body}`);
    };
    const times = await medians(
      {
        wrongUser: refused(basic('admim', password)),
        wrongFirstByte: refused(basic('admin', 'q' + password.slice(1))),
        wrongLastByte: refused(basic('admin', password.slice(0, -1) + 'y')),
      },
      1000,
      1,
    );
    console.log(`auth timing, GET /api/admin/namespace/list refused (inject): ${show(times)} (spread ${spread(times).toFixed(3)})`);
    expect(spread(times)).toBeLessThan(SPREAD_LIMIT);
  }, 120_000);
});
