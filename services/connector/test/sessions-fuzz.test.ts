/**
 * Property-based fuzz of the sessions protocol's two inputs (seed 003): random `authenticate`
 * payloads from a client and random messages on the `notifications` channel never crash the
 * connector nor leave an unhandled rejection; a socket bound before the fuzz still gets exactly the
 * notifications meant for its user; `close()` ends the application-Redis connections. The seed is
 * printed (`FUZZ_SEED=<n>` replays; `FUZZ_RUNS=<n>` runs more).
 */
import fc from 'fast-check';
import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';
import { Keys, NamespaceStore } from '@herald/store';
import { parseNotification } from '@herald/wire';
import { startRedis, until, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { buildConnector } from '../src/connector';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 1_000);
const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31);
let server: TestRedis;
let redis: Redis;
let connector: ReturnType<typeof buildConnector>;
let port: number;
const sockets: Socket[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startRedis();
  redis = new Redis(server.url);
  await new NamespaceStore(redis, new Keys('h:')).save('/sz', { password: 'pw', protocol: 'sessions' });
  const config = loadConfig('connector', { HERALD_REDIS_URL: server.url, HERALD_CONNECTOR_PORT: '0' });
  connector = buildConnector(config, createLogger('connector', 'silent'));
  port = (await connector.start())!;
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await connector.close();
  // The connector's own connections to the application Redis (here Herald's) are gone with it.
  const names = ((await redis.client('LIST')) as string).split('\n').map((line) => /name=(\S*)/.exec(line)?.[1]);
  expect(names.filter((name) => name?.startsWith('herald-'))).toEqual([]);
  await redis.quit();
  await server.stop();
  process.off('unhandledRejection', onUnhandled);
});

async function open(): Promise<{ socket: Socket; messages: unknown[] }> {
  const socket = connect(`http://127.0.0.1:${port}/sz`, { transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  const messages: unknown[] = [];
  socket.on('message', (data: unknown) => messages.push(data));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, messages };
}

const leaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', 'fz', 'bound', 'user_fz', '__proto__', 'x'.repeat(300), 'a:b', '{t}', '*'),
);
const value = fc.oneof(leaf, fc.array(leaf, { maxLength: 4 }), fc.dictionary(fc.constantFrom('sessionId', 'users', 'data', 'type', 'payload', '__proto__', 'x'), leaf, { maxKeys: 4 }));
const notification = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.json({ maxDepth: 3 }),
  fc.record({ users: fc.oneof(value, fc.array(fc.oneof(fc.constantFrom('other', 'u:x', ''), fc.integer()), { maxLength: 4 })), data: value }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.record({ users: fc.array(fc.constantFrom('other', 'nobody'), { maxLength: 3 }), type: leaf, payload: value, extra: leaf }, { requiredKeys: ['users'] }).map((o) => JSON.stringify(o)),
);

test(`${RUNS} random authenticate payloads and notifications: no crash, nothing to the wrong user (seed ${seed})`, async () => {
  console.log(`fuzz seed: ${seed}`);
  await redis.set('session-store-bound', 'fz');
  const bound = await open();
  bound.socket.emit('authenticate', { sessionId: 'bound' });
  await until(async () => {
    await redis.publish('notifications', JSON.stringify({ users: ['fz'], data: 'probe' }));
    return bound.messages.includes('probe') ? true : undefined;
  });
  // Probes sent before the first one arrived may still come: they are left out below.
  const notProbe = (m: unknown) => m !== 'probe';
  const fuzzed = await open();
  // What the bound socket (user `fz`) must get: the valid notifications naming it, once each.
  const expected: unknown[] = [];
  await fc.assert(
    fc.asyncProperty(value, notification, async (payload, text) => {
      fuzzed.socket.emit('authenticate', payload);
      const parsed = parseNotification(text);
      if (typeof parsed !== 'string' && parsed.users.includes('fz')) expected.push(parsed.message);
      await redis.publish('notifications', text);
    }),
    { numRuns: RUNS, seed },
  );
  await redis.publish('notifications', JSON.stringify({ users: ['fz', 'fz', 'other'], data: 'after' }));
  expected.push('after');
  await until(async () => (bound.messages.filter(notProbe).length >= expected.length ? true : undefined), 10_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(bound.messages.filter(notProbe)).toEqual(expected);
  expect(unhandled).toEqual([]);
  expect(bound.socket.connected && fuzzed.socket.connected).toBe(true);
}, 300_000);
