import { createLogger } from '@herald/log';
import { ClientStore, ConnectorRegistry, Keys, RoomStore, Scripts } from '@herald/store';
import { startRedis, until, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { Liveness } from '../src/core/liveness';

const keys = new Keys('h:');
const INTERVAL = 100;
let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  redis = new Redis(server.url, { retryStrategy: () => 20, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

test('after a Redis outage a connector reaps nobody before the others had time to beat; a silent one is reaped', async () => {
  const scripts = new Scripts(redis);
  const registry = new ConnectorRegistry(redis, keys);
  const clients = new ClientStore(redis, keys, scripts);
  const rooms = new RoomStore(redis, keys, scripts);
  // Connector B, another process, with one client online in a room.
  const cid = '/n#u#web-x';
  await registry.beat('B');
  await clients.connected(cid, { namespace: '/n', userid: 'u', uuid: 'x', platform: 'web', sid: 's1', connector: 'B' });
  await rooms.join('/n', 'r', { clientId: cid, userid: 'u', platform: 'web' }, 's1');
  await clients.addRoom(cid, 'r');

  const a = new Liveness('A', registry, clients, rooms, INTERVAL, createLogger('test', 'silent'));
  await a.start();
  const beatB = setInterval(() => void registry.beat('B').catch(() => undefined), INTERVAL);
  let beatAgain: NodeJS.Timeout | undefined;
  try {
    await server.kill();
    clearInterval(beatB);
    await new Promise((r) => setTimeout(r, 5 * INTERVAL)); // every beat is stale now
    await server.restart();
    // A is back first; B comes back a little later (its own reconnection), then beats again.
    await until(async () => ((Number(await redis.zscore(keys.connectors(), 'A')) > Date.now() - INTERVAL) ? true : undefined), 5000, 10);
    await new Promise((r) => setTimeout(r, 1.5 * INTERVAL));
    beatAgain = setInterval(() => void registry.beat('B').catch(() => undefined), INTERVAL);
    await registry.beat('B');
    await new Promise((r) => setTimeout(r, 6 * INTERVAL));
    expect(await redis.smembers(keys.roomOnline('/n', 'r'))).toEqual([cid]);

    // B dies for good: A reaps it.
    clearInterval(beatAgain);
    await until(async () => ((await redis.scard(keys.roomOnline('/n', 'r'))) === 0 ? true : undefined), 5000, 20);
    expect(await redis.hget(keys.client(cid), 'disconnect_reason')).toBe('connector lost');
  } finally {
    clearInterval(beatB);
    clearInterval(beatAgain);
    await a.stop();
  }
});
