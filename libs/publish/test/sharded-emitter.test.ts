/**
 * ShardedEmitter against the real sharded adapter of @socket.io/redis-adapter: what logic publishes
 * must be what a connector's adapter takes for a `serverSideEmit`. Sharded pub/sub (Redis >= 7)
 * works on a single server too, so this runs without a cluster; tests/redis-cluster.test.ts does
 * the same across a cluster with real processes.
 */
import { createServer } from 'node:http';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { startRedis, until, type TestRedis } from '@herald/test-support';
import { ShardedEmitter } from '../src';

let server: TestRedis;
let pub: Redis;
let sub: Redis;
let publisher: Redis;
let io: Server;

beforeAll(async () => {
  server = await startRedis();
  [pub, sub, publisher] = [new Redis(server.url), new Redis(server.url), new Redis(server.url)];
  io = new Server(createServer(), { adapter: createShardedAdapter(pub, sub, { channelPrefix: 't:sio', subscriptionMode: 'static' }) });
});
afterAll(async () => {
  await new Promise((resolve) => io.close(resolve));
  await Promise.all([pub.quit(), sub.quit(), publisher.quit()]);
  await server.stop();
});

/** Resolves once the adapter of `nsp` has subscribed to its channel. */
async function subscribed(emitter: ShardedEmitter, nsp: string): Promise<void> {
  await until(async () => {
    const [, count] = (await publisher.call('PUBSUB', 'SHARDNUMSUB', emitter.channel(nsp))) as [string, number];
    return count >= 1 ? true : undefined;
  });
}

test('a serverSideEmit reaches the handlers of its namespace only, with its JSON payload intact', async () => {
  const emitter = new ShardedEmitter(publisher, { channelPrefix: 't:sio' });
  const got: { nsp: string; payload: unknown }[] = [];
  const second = new Promise<void>((resolve) => {
    for (const name of ['/a', '/b']) {
      io.of(name).on('herald:test', (payload: unknown) => {
        got.push({ nsp: name, payload });
        if (name === '/b') resolve();
      });
    }
  });
  await Promise.all([subscribed(emitter, '/a'), subscribed(emitter, '/b')]);
  const payload = { message: { id: 7, pushData: { text: 'héllo {}|#', n: [1, null, true] } }, except: '/a#u#web-x' };
  expect(await emitter.serverSideEmit('/a', 'herald:test', payload)).toBe(1);
  expect(await emitter.serverSideEmit('/b', 'herald:test', 'second')).toBe(1);
  await second;
  // Sharded pub/sub keeps the order of one publisher's messages; each went to its namespace only.
  expect(got).toEqual([
    { nsp: '/a', payload },
    { nsp: '/b', payload: 'second' },
  ]);
});

test('the channel is the adapter channel of the namespace under the prefix', () => {
  expect(new ShardedEmitter(publisher, { channelPrefix: 'h:sio' }).channel('/chat')).toBe('h:sio#/chat#');
  expect(new ShardedEmitter(publisher).channel('/')).toBe('socket.io#/#');
});
