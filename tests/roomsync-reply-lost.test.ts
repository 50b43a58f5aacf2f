/**
 * A roomsync `msg` (seed 000) whose reply from Redis is lost with the connection: the store script
 * ran, its answer never came back, and ioredis sends the command again after reconnecting (the
 * connector's main connection resends, on purpose: its other scripts are idempotent). The call's
 * mark makes the second run a no-op, so the message is in the room's history once and relayed once.
 * Real processes: a connector talks to a real redis-server through a TCP proxy that swallows the
 * reply of one store call and drops that connection; seed clients (socket.io-client v2).
 */
import { Redis } from 'ioredis';
import { Keys, NamespaceStore, RoomsyncAccounts, RoomsyncKeys } from '@herald/store';
import { startRedis, startService, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { closeSeedClients, seedClient, type SeedClient } from './support/roomsync-client';
import { startReplySwallowingProxy, type ReplySwallowingProxy } from './support/reply-swallowing-proxy';

const keys = new Keys('h:');
const rk = new RoomsyncKeys(keys);
const NSP = '/rslost';
let server: TestRedis;
let redis: Redis;
let proxy: ReplySwallowingProxy;
let connector: ServiceProcess;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  await new NamespaceStore(redis, keys).save(NSP, { protocol: 'roomsync' });
  proxy = await startReplySwallowingProxy(server.port);
  connector = await startService('connector', {
    env: { HERALD_REDIS_URL: `redis://127.0.0.1:${proxy.port}`, HERALD_CONNECTOR_PORT: '0', HERALD_SOCKET_PATHS: `/socket.io=${NSP}` },
  });
});
afterAll(async () => {
  closeSeedClients();
  expect(await connector.stop()).toBe(0);
  await proxy.close();
  await redis.quit();
  await server.stop();
});

async function member(uid: string): Promise<SeedClient> {
  const token = (await new RoomsyncAccounts(redis, keys).create(NSP, uid))!;
  const c = await seedClient(connector.port);
  expect(await c.auth(uid, token)).toEqual({ status: 0, data: 'auth success' });
  expect(await c.join('r')).toEqual({ status: 0, data: 'join success' });
  return c;
}

const history = async () => (await redis.lrange(rk.inserts(NSP, 'r'), 0, -1)).map((entry) => JSON.parse(entry).data);

test('a msg whose store reply was lost is stored once and relayed once after the resend', async () => {
  const sender = await member('alice');
  const observer = await member('bob');

  // The first store also loads the script on Redis (EVALSHA, NOSCRIPT, EVAL).
  const first = observer.next('msg');
  sender.emit('msg', { data: 'first', storage: 0 });
  expect(await first).toEqual({ data: 'first', storage: 0, uid: 'alice' });

  const relayed = observer.next('msg');
  proxy.swallowNext('lost-one');
  sender.emit('msg', { data: 'lost-one', storage: 0 });
  expect(await relayed).toEqual({ data: 'lost-one', storage: 0, uid: 'alice' });
  expect(proxy.swallowed).toBe(1);

  // The next message goes through the new connection; the room's history holds each message once.
  const next = observer.next('msg');
  sender.emit('msg', { data: 'after', storage: 0 });
  expect(await next).toEqual({ data: 'after', storage: 0, uid: 'alice' });
  expect(await history()).toEqual([{ data: 'first', storage: 0, uid: 'alice' }, { data: 'lost-one', storage: 0, uid: 'alice' }, { data: 'after', storage: 0, uid: 'alice' }]);
  expect(observer.all('msg')).toEqual([{ data: 'first', storage: 0, uid: 'alice' }, { data: 'lost-one', storage: 0, uid: 'alice' }, { data: 'after', storage: 0, uid: 'alice' }]);
});
