/**
 * Property-based fuzz of every client event (issue 7): random payloads for joinRoom, leaveRoom,
 * ackPush, info, apns and push never crash the connector nor leave an unhandled rejection; a
 * refused event changes nothing in Redis; the socket stays usable. The seed is printed
 * (`FUZZ_SEED=<n>` replays).
 */
import fc from 'fast-check';
import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';
import { Keys, NamespaceStore } from '@herald/store';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { buildConnector } from '../src/connector';

const RUNS = 10_000;
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
  // DEBUG DIGEST: one round trip tells whether anything in Redis changed.
  server = await startRedis({ args: ['--enable-debug-command', 'yes'] });
  redis = new Redis(server.url);
  await new NamespaceStore(redis, new Keys('h:')).save('/fz', { password: 'pw' });
  const config = loadConfig('connector', { HERALD_REDIS_URL: server.url, HERALD_CONNECTOR_PORT: '0', HERALD_CLIENT_PUSH_INTERVAL_MS: '0',
    // No heartbeat during the run: its writes would change the digest between two events.
    HERALD_CONNECTOR_HEARTBEAT_MS: '600000',
  });
  connector = buildConnector(config, createLogger('connector', 'silent'));
  port = (await connector.start())!;
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await connector.close();
  await redis.quit();
  await server.stop();
  process.off('unhandledRejection', onUnhandled);
});

function open(query: Record<string, string>): Promise<Socket> {
  const socket = connect(`http://127.0.0.1:${port}/fz`, { query, transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('ok', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const digest = async () => (await redis.call('DEBUG', 'DIGEST')) as string;

/** The digest once it stopped changing for 30 ms (longer than a report batch). */
async function settled(): Promise<string> {
  let last = await digest();
  for (;;) {
    await new Promise((r) => setTimeout(r, 30));
    const now = await digest();
    if (now === last) return now;
    last = now;
  }
}

const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', 'r1', 'user_other', 'user_fz1', 'a b', 'x'.repeat(120), '__proto__', '/fz#fz1#web-fz1', 'true', 'false', '1'),
);
const payload = fc.oneof(
  leaf,
  fc.array(leaf, { maxLength: 5 }),
  fc.dictionary(
    fc.constantFrom('id', 'room', 'pushData', 'add', 'remove', 'clientId', 'device_token', 'mobile', 'system', 'leaveMessage', 'except', 'namespace', 'from', 'expire', '__proto__', 'constructor'),
    fc.oneof(leaf, fc.array(leaf, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), leaf, { maxKeys: 2 })),
    { maxKeys: 4 },
  ),
);
const event = fc.constantFrom('joinRoom', 'leaveRoom', 'ackPush', 'info', 'apns', 'push');

test(`${RUNS} random client events: no crash, refused ones change nothing (seed ${seed})`, async () => {
  console.log(`fuzz seed: ${seed}`);
  const web = await open({ uuid: 'fz1', userid: 'fz1' });
  const ios = await open({ uuid: 'fz2', platform: 'ios' });
  let before = await digest();
  await fc.assert(
    fc.asyncProperty(event, payload, fc.boolean(), async (name, data, fromIos) => {
      const socket = fromIos ? ios : web;
      const answer = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${name} ${JSON.stringify(data)}`)), 5000);
        socket.emit(name, data, (a: unknown) => {
          clearTimeout(timer);
          resolve(a);
        });
      });
      const refused = !Array.isArray(answer) && (answer as { status?: number }).status !== 200;
      if (refused) {
        expect(await digest()).toBe(before);
      } else {
        // An accepted event may write later (acks and delivery counts go in 20 ms batches, after
        // a pub/sub round trip for pushes): wait until Redis is quiet before the next comparison.
        before = await settled();
      }
    }),
    { numRuns: RUNS, seed },
  );
  expect(unhandled).toEqual([]);
  expect(web.connected && ios.connected).toBe(true);
  const fresh = await open({ uuid: 'fz3' });
  expect(await new Promise((r) => fresh.emit('joinRoom', 'after', r))).toEqual({ status: 200, msg: 'ok' });
}, 300_000);
