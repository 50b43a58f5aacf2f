/**
 * The connector's handshake reads namespace settings from memory (CachedNamespaceStore, connector.ts)
 * and stays coherent: a change made through logic's admin API (which publishes the namespace notice)
 * is seen by the very next handshake or room join on a running connector; a change nobody announced
 * is not (that is what proves the memory is used); and while the connector's subscription to the
 * namespace channel is down, every handshake reads Redis.
 *
 * The connector runs as its own Redis ACL user, so that its subscriber can be kept down: a killed
 * connection of that user cannot log in again while its password is changed (ACL SETUSER does not
 * drop the connections already logged in: the connector's other connections keep working).
 */
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { until, type ServiceProcess } from '@herald/test-support';
import { connectClient, connectError, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

const keys = new Keys('h:');
let stack: Stack;
let connector: ServiceProcess;
let redis: Redis;
const opened: Recorded[] = [];

beforeAll(async () => {
  // Logic runs as the default user; the connector as `herald`.
  stack = await startStack({ connectors: 0, env: { HERALD_NAMESPACE_OFFLINE_DELAY_MS: '0' } });
  redis = new Redis(stack.redis.url);
  await redis.call('ACL', 'SETUSER', 'herald', 'on', '>pw', '~*', '&*', '+@all');
  connector = await stack.startConnector({ HERALD_REDIS_URL: stack.redis.url.replace('redis://', 'redis://herald:pw@') });
});
afterAll(async () => {
  for (const c of opened) c.socket.close();
  await redis?.quit();
  expect(await stack?.stop()).toEqual([0, 0]);
});

const save = async (body: Record<string, unknown>) => expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body })).status).toBe(200);

/** Writes a field behind every store's back: no notice is published. */
const silently = (nsp: string, field: string, value: string) => redis.hset(keys.namespace(nsp), field, value);

async function connects(nsp: string, uuid: string): Promise<Recorded> {
  const c = await connectClient(connector.port, nsp, { uuid });
  opened.push(c);
  return c;
}

async function refusedOffline(nsp: string, uuid: string): Promise<void> {
  const refusal = await connectError(connector.port, nsp, { uuid });
  expect(refusal.message).toBe('this namespace offline');
  expect(refusal.data).toEqual({ code: 'HS_NAMESPACE_OFFLINE' });
}

test('a change through the admin API is seen by the next handshake; a change nobody announced is not', async () => {
  await save({ key: '/nc', auth_passwd: 'pw' });
  const first = await connects('/nc', 'a1');
  // No wait in between: the notice reaches the connector before logic's save is answered (Redis
  // writes it to the subscribers while it runs the PUBLISH), and long before the next handshake.
  await save({ key: '/nc', offline: 'on' });
  await refusedOffline('/nc', 'a2');
  await save({ key: '/nc', offline: 'off' });
  await connects('/nc', 'a3');
  // Unannounced: served from memory, so the next handshake does not see it...
  await silently('/nc', 'offline', 'on');
  await connects('/nc', 'a4');
  // ...until a notice for the namespace arrives (any save publishes one).
  await save({ key: '/nc', name: 'renamed' });
  await refusedOffline('/nc', 'a5');
  await save({ key: '/nc', offline: 'off' });
  expect(first.socket.connected).toBe(false); // dropped by the namespace watch meanwhile
});

test('max_client_rooms changed through the admin API applies to the next room join', async () => {
  await save({ key: '/ncr', auth_passwd: 'pw', max_client_rooms: 3 });
  const c = await connects('/ncr', 'r1');
  expect(await emitWithAck(c.socket, 'joinRoom', ['a', 'b'])).toEqual({ status: 200, msg: 'ok' });
  await save({ key: '/ncr', max_client_rooms: 2 });
  expect(await emitWithAck(c.socket, 'joinRoom', 'c')).toEqual({ status: 400, msg: 'too many rooms for this client: at most 2' });
  await save({ key: '/ncr', max_client_rooms: 4 });
  expect(await emitWithAck(c.socket, 'joinRoom', 'c')).toEqual({ status: 200, msg: 'ok' });
  // And a new handshake on the namespace is admitted with its rooms bounded by the new value.
  const d = await connects('/ncr', 'r2');
  expect(await emitWithAck(d.socket, 'joinRoom', ['a', 'b', 'c', 'd', 'e'])).toEqual({ status: 400, msg: 'too many rooms for this client: at most 4' });
});

test('while the subscription to namespace changes is down, every handshake reads Redis', async () => {
  await save({ key: '/nco', auth_passwd: 'pw' });
  await connects('/nco', 'o1'); // cached now
  const failed = connector.logs.filter(watchLoginFailed).length;
  await redis.call('ACL', 'SETUSER', 'herald', 'resetpass', '>changed');
  expect(await killWatch()).toBe(1);
  // Its reconnect was refused: the connector has seen the connection close.
  await until(async () => (connector.logs.filter(watchLoginFailed).length > failed ? true : undefined));
  // Changes with no notice (as if published while the subscriber was away) are seen at once.
  await silently('/nco', 'offline', 'on');
  await refusedOffline('/nco', 'o2');
  await silently('/nco', 'offline', 'off');
  await connects('/nco', 'o3');
  await silently('/nco', 'offline', 'on');
  await refusedOffline('/nco', 'o4');

  // Back: subscribed again (the watch logs it after the cache's SUBSCRIBE, sent first on 'ready',
  // was answered), memory is used again and notices work as before.
  const resubscribed = connector.logs.filter(watchResubscribed).length;
  await redis.call('ACL', 'SETUSER', 'herald', 'resetpass', '>pw');
  await until(async () => (connector.logs.filter(watchResubscribed).length > resubscribed ? true : undefined), 10_000);
  await refusedOffline('/nco', 'o5');
  await silently('/nco', 'offline', 'off');
  await refusedOffline('/nco', 'o6');
  await save({ key: '/nco', offline: 'off' });
  await connects('/nco', 'o7');
});

const watchLoginFailed = (line: { msg: string; [k: string]: unknown }) =>
  line.msg === 'redis connection error' && line['connection'] === 'watch' && /WRONGPASS|invalid username-password/i.test(String(line['err']));
const watchResubscribed = (line: { msg: string }) => line.msg === 'namespace changes subscribed again: re-reading namespaces';

/** Kills the connector's namespace-channel subscriber (connector.ts names it) by its id. */
async function killWatch(): Promise<number> {
  const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(' name=herald-connector-watch '))
    .map((line) => /^id=(\d+)/.exec(line)![1]!);
  for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
  return ids.length;
}
