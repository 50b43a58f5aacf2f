/**
 * The Redis pub/sub channel ingress (issue 12): JSON published on a channel goes through the REST
 * push's checks into the same store-then-publish path; a refused message stores nothing.
 */
import { once } from 'node:events';
import { createLogger } from '@herald/log';
import { OfflineQueue } from '@herald/queues';
import { Keys, MessageStore, NamespaceStore, Scripts } from '@herald/store';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { ChannelIngress, ConnectorBus, PushService } from '../src';

const keys = new Keys(`ci${process.pid}:`);
const CHANNEL = `${keys.prefix}notifications`;
let server: TestRedis;
let redis: Redis;
let subscriber: Redis;
let publisher: Redis;
let offline: OfflineQueue;
let ingress: ChannelIngress;

beforeAll(async () => {
  server = await startRedis();
  [redis, subscriber, publisher] = [new Redis(server.url), new Redis(server.url), new Redis(server.url)];
  const logger = createLogger('test', 'silent');
  const namespaces = new NamespaceStore(redis, keys);
  await namespaces.save('/news', {});
  await namespaces.save('/closed', { offline: true });
  offline = new OfflineQueue(redis, keys.queuePrefix());
  const push = new PushService(redis, keys, new ConnectorBus(redis, keys, logger), offline, { offlineDelayMs: 60_000 }, logger);
  ingress = new ChannelIngress(subscriber, CHANNEL, namespaces, push, logger);
  await ingress.start();
});

afterAll(async () => {
  await ingress.stop();
  await offline.close();
  await Promise.all([redis.quit(), subscriber.quit(), publisher.quit()]);
  await server.stop();
});

async function publish(message: string): Promise<['accepted' | 'refused', any]> {
  const outcome = Promise.race([
    once(ingress, 'accepted').then(([event]) => ['accepted', event] as ['accepted', any]),
    once(ingress, 'refused').then(([event]) => ['refused', event] as ['refused', any]),
  ]);
  expect(await publisher.publish(CHANNEL, message)).toBe(1);
  return outcome;
}

test('a JSON message on the channel is stored and published like a REST push', async () => {
  const [kind, event] = await publish(JSON.stringify({ namespace: '/news', room: 'r1', pushData: { headline: 'hi' }, leaveMessage: true }));
  expect(kind).toBe('accepted');
  expect(event).toEqual({ namespace: '/news', result: { id: 1, expectAckCount: 0 } });
  const report = await new MessageStore(redis, keys, new Scripts(redis)).report('/news', 1);
  expect(report).toMatchObject({ id: 1, room: 'r1', pushData: { headline: 'hi' } });
  // leaveMessage: the offline step is scheduled, as for a REST push.
  expect(await offline.bull.getDelayedCount()).toBe(1);
});

test.each([
  ['not json', 'JSON_INVALID'],
  ['[1]', 'BODY_INVALID'],
  [JSON.stringify({ room: 'r1', pushData: {} }), 'NAMESPACE_EMPTY'],
  [JSON.stringify({ namespace: 'news', room: 'r1', pushData: {} }), 'NAMESPACE_INVALID'],
  [JSON.stringify({ namespace: '/nope', room: 'r1', pushData: {} }), 'NAMESPACE_NOT_FOUND'],
  [JSON.stringify({ namespace: '/closed', room: 'r1', pushData: {} }), 'NAMESPACE_OFFLINE'],
  [JSON.stringify({ namespace: '/news', room: 'r1' }), 'PUSH_DATA_INVALID'],
  [JSON.stringify({ namespace: '/news', room: 'r1', pushData: {}, from: 'x' }), 'UNKNOWN_FIELD'],
])('%s is refused with %s and stores nothing', async (message, code) => {
  const [kind, event] = await publish(message);
  expect([kind, event.code]).toEqual(['refused', code]);
  expect(await redis.get(keys.messageSeq('/news'))).toBe('1');
  expect(await redis.exists(keys.messageSeq('/closed'), keys.messageSeq('/nope'))).toBe(0);
});
