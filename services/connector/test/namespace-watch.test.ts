/**
 * The namespace watch across a broken subscription: a namespace switched offline while the watch's
 * Redis connection was down (its notice lost) is still dropped once the connection is back.
 */
import { loadConfig } from '@herald/config';
import { createLogger } from '@herald/log';
import { Keys, NamespaceStore } from '@herald/store';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { buildConnector } from '../src/connector';

let server: TestRedis;
let redis: Redis;
let connector: ReturnType<typeof buildConnector>;
let port: number;
const keys = new Keys('h:');
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  const namespaces = new NamespaceStore(redis, keys);
  for (const key of ['/blip', '/steady']) await namespaces.save(key, { password: 'pw' });
  const config = loadConfig('connector', { HERALD_REDIS_URL: server.url, HERALD_CONNECTOR_PORT: '0', HERALD_NAMESPACE_OFFLINE_DELAY_MS: '100' });
  connector = buildConnector(config, createLogger('connector', 'silent'));
  port = (await connector.start())!;
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await connector.close();
  await redis.quit();
  await server.stop();
});

function ok(namespace: string, uuid: string): Promise<Socket> {
  const socket = connect(`http://127.0.0.1:${port}${namespace}`, { query: { uuid }, transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('ok', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Kills the connector's connections of one purpose (connector.ts names them) by their id. */
async function killConnections(name: string): Promise<number> {
  const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /^id=(\d+)/.exec(line)![1]!);
  for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
  return ids.length;
}

test('a namespace switched offline during a subscription blip is dropped once the watch is back', async () => {
  const blip = await ok('/blip', 'b1');
  const steady = await ok('/steady', 's1');
  const dropped = new Promise<string>((resolve) => blip.once('disconnect', resolve));
  // The switch whose notice the watch misses: written while its connection is going down, the notice
  // never published to it (a notice published now might still reach the re-subscribed connection
  // and prove nothing).
  await redis.hset(keys.namespace('/blip'), 'offline', 'on');
  expect(await killConnections('herald-connector-watch')).toBe(1);
  expect(await dropped).toBe('io server disconnect');
  // Only the namespace that is offline: the other one's socket stays.
  expect(steady.connected).toBe(true);
  expect(await new Promise((resolve) => steady.emit('info', {}, resolve))).toMatchObject({ status: 200 });
});
