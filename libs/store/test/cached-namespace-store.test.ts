import { Cluster, Redis } from 'ioredis';
import { startRedis, startRedisCluster, until, type TestRedis, type TestRedisCluster } from '@herald/test-support';
import { CachedNamespaceStore, Keys, NamespaceStore } from '../src';

let server: TestRedis;
let redis: Redis;
let subscriber: Redis;
let other: Redis;
let cached: CachedNamespaceStore;
/** Another process's view: a plain store on its own connection, as a second logic or an admin. */
let elsewhere: NamespaceStore;
const keys = new Keys('nc:');

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  other = new Redis(server.url);
  subscriber = new Redis(server.url);
  cached = new CachedNamespaceStore(redis, keys, subscriber);
  elsewhere = new NamespaceStore(other, keys);
  await cached.start();
  expect(cached.active).toBe(true);
});
afterAll(async () => {
  await Promise.all([redis.quit(), other.quit(), subscriber.quit()]);
  await server.stop();
});

/** Writes a field behind every store's back: no notice is published. */
const silently = (nsp: string, field: string, value: string) => redis.hset(keys.namespace(nsp), field, value);

test('settings come from memory once read: a change nobody announced is not seen', async () => {
  await silently('/quiet', 'name', 'before');
  expect((await cached.settings('/quiet'))?.name).toBe('before');
  await silently('/quiet', 'name', 'after');
  expect((await cached.settings('/quiet'))?.name).toBe('before');
  // The announcement (what every save and removal publishes) drops the entry.
  await other.publish(keys.namespaceChannel(), '/quiet');
  await until(async () => ((await cached.settings('/quiet'))?.name === 'after' ? true : undefined));
});

test('a save or removal through the cached store is seen by the next read at once', async () => {
  await cached.save('/own', { name: 'one', offline: false });
  expect(await cached.settings('/own')).toMatchObject({ name: 'one', offline: false });
  await cached.save('/own', { offline: true });
  expect(await cached.settings('/own')).toMatchObject({ name: 'one', offline: true });
  await cached.remove('/own');
  expect(await cached.settings('/own')).toBeNull();
});

test('a save or removal by another process is seen as soon as its notice arrives', async () => {
  expect(await cached.settings('/theirs')).toBeNull(); // an unknown namespace is cached too
  await elsewhere.save('/theirs', { name: 'created' });
  await until(async () => ((await cached.settings('/theirs'))?.name === 'created' ? true : undefined));
  await elsewhere.save('/theirs', { offline: true });
  await until(async () => ((await cached.settings('/theirs'))?.offline ? true : undefined));
  await elsewhere.remove('/theirs');
  await until(async () => ((await cached.settings('/theirs')) === null ? true : undefined));
});

test('notices lost while the subscription was down leave nothing stale behind', async () => {
  await elsewhere.save('/outage', { name: 'old' });
  await until(async () => ((await cached.settings('/outage'))?.name === 'old' ? true : undefined));
  const reconnected = new Promise((resolve) => subscriber.once('ready', resolve));
  // Drop the subscriber's connection; the change is made with no notice at all (as if its
  // notice had been published while the subscriber was away).
  await other.client('KILL', 'TYPE', 'pubsub');
  await silently('/outage', 'name', 'new');
  await reconnected;
  expect((await cached.settings('/outage'))?.name).toBe('new');
  // Subscribed again: caching resumes and notices work as before.
  await until(async () => (cached.active ? true : undefined));
  expect((await cached.settings('/outage'))?.name).toBe('new');
  await silently('/outage', 'name', 'newer');
  expect((await cached.settings('/outage'))?.name).toBe('new');
  await other.publish(keys.namespaceChannel(), '/outage');
  await until(async () => ((await cached.settings('/outage'))?.name === 'newer' ? true : undefined));
});

test('an entry is read again from Redis after maxAgeMs, notice or not', async () => {
  const shortLived = new CachedNamespaceStore(redis, keys, subscriber, { maxAgeMs: 200 });
  await shortLived.start();
  await silently('/aged', 'name', 'first');
  expect((await shortLived.settings('/aged'))?.name).toBe('first');
  await silently('/aged', 'name', 'second');
  expect((await shortLived.settings('/aged'))?.name).toBe('first');
  await until(async () => ((await shortLived.settings('/aged'))?.name === 'second' ? true : undefined), 3000);
});

describe('on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let clients: Cluster[];
  let store: CachedNamespaceStore;
  let clusterSubscriber: Cluster;
  const connect = () => new Cluster(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));

  beforeAll(async () => {
    cluster = await startRedisCluster();
    clients = [connect(), connect()];
    clusterSubscriber = clients[1]!;
    store = new CachedNamespaceStore(clients[0]!, keys, clusterSubscriber);
    await store.start();
    expect(store.active).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    await cluster.stop();
  });

  test('a subscription that moved to another node (its connection dropped) leaves nothing stale behind', async () => {
    const silentlyOn = (value: string) => clients[0]!.hset(keys.namespace('/moved'), 'name', value);
    await silentlyOn('old');
    expect((await store.settings('/moved'))?.name).toBe('old');
    // ioredis' cluster subscriber is one connection to one node; when it drops, another node is
    // picked and the channel subscribed there — no event on the Cluster. A notice published in
    // between is lost: here the change is made with no notice at all.
    await Promise.all(
      cluster.nodes.map(async (node) => {
        const admin = new Redis(node.url);
        try {
          await admin.client('KILL', 'TYPE', 'pubsub');
        } finally {
          admin.disconnect();
        }
      }),
    );
    await silentlyOn('new');
    await until(async () => ((await store.settings('/moved'))?.name === 'new' ? true : undefined), 5000);
    // Subscribed again: caching resumes, and notices work as before.
    await until(async () => (store.active ? true : undefined));
    expect((await store.settings('/moved'))?.name).toBe('new');
    await silentlyOn('newer');
    expect((await store.settings('/moved'))?.name).toBe('new');
    await clients[0]!.publish(keys.namespaceChannel(), '/moved');
    await until(async () => ((await store.settings('/moved'))?.name === 'newer' ? true : undefined));
  });
});
