/**
 * The sessions protocol (seed 003) against the application Redis it may be given: Herald's own by
 * default, with its own key prefix and channel; a Redis that refuses CONFIG (a managed service),
 * where Herald says clearly that it cannot enable keyspace notifications; a Redis Cluster, where
 * keyspace notifications come from the master holding each key; and a Redis that restarts, forgets
 * the setting and its sessions. Real processes: a connector, logic and a worker.
 */
import { io, type Socket } from 'socket.io-client';
import { Redis, Cluster } from 'ioredis';
import { freePort, startRedis, startRedisCluster, startService, until, type ServiceProcess, type TestRedis, type TestRedisCluster } from '@herald/test-support';
import { ADMIN, startStack, type Stack } from './support/stack';

let stack: Stack;
let worker: ServiceProcess;
let own: Redis;
let managedServer: TestRedis;
let managed: Redis;
let cluster: TestRedisCluster;
let clusterClient: Cluster;
let restartingServer: TestRedis;
const opened: Socket[] = [];
/** The managed Redis's password: in its URL, never in a log line or an answer. */
const PASSWORD = 's3cret-pw-0451';
const managedUrl = (): string => managedServer.url.replace('redis://', `redis://:${PASSWORD}@`);

/** A client of a sessions namespace opened by name (the stock v4 client), recording `message`. */
async function client(namespace: string): Promise<{ socket: Socket; messages: unknown[] }> {
  const socket = io(`http://127.0.0.1:${stack.connectors[0]!.port}${namespace}`, { transports: ['websocket'], reconnection: false, forceNew: true });
  opened.push(socket);
  const messages: unknown[] = [];
  socket.on('message', (data: unknown) => messages.push(data));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, messages };
}

async function userOf(namespace: string, sessionId: string): Promise<string[]> {
  const answer = await stack.api(`/api/admin/namespace/connections/${encodeURIComponent(namespace)}`, { auth: ADMIN });
  expect(answer.status).toBe(200);
  return (answer.body.connections as { sessionId: string; userId: string }[]).filter((c) => c.sessionId === sessionId).map((c) => c.userId);
}

function bound(namespace: string, sessionId: string, user: string, count = 1): Promise<true> {
  return until(async () => {
    const users = await userOf(namespace, sessionId);
    return users.length === count && users.every((u) => u === user) ? true : undefined;
  }, 10_000);
}

async function save(key: string, settings: Record<string, unknown>): Promise<void> {
  expect(await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key, auth_passwd: 'pw', protocol: 'sessions', settings } })).toEqual({ status: 200, body: {} });
}

beforeAll(async () => {
  [managedServer, cluster, restartingServer] = await Promise.all([
    // A managed Redis: CONFIG is not available to clients (renamed, as such services do).
    startRedis({ args: ['--rename-command', 'CONFIG', 'CONFIG-9f3a1c', '--requirepass', PASSWORD] }),
    startRedisCluster(),
    startRedis(),
  ]);
  stack = await startStack({ connectors: 1 });
  worker = await startService('worker', { env: stack.env });
  own = new Redis(stack.redis.url);
  // Flags another application relies on: Herald adds its own to them.
  await own.config('SET', 'notify-keyspace-events', 'El');
  managed = new Redis(managedUrl());
  clusterClient = new Cluster(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
  await save('/own', {});
  await save('/custom', { session_key_prefix: 'sess:', notifications_channel: 'to-users' });
  await save('/managed', { session_redis_url: managedUrl() });
  await save('/clustered', { session_redis_url: cluster.url });
  await save('/restarting', { session_redis_url: restartingServer.url });
}, 90_000);

afterAll(async () => {
  // The services stop first, with their clients still connected (one of them to an application
  // Redis that never answers): a connector's shutdown must not wait for it.
  const codes = await Promise.all([worker?.stop(), stack?.stop()]);
  for (const socket of opened) socket.close();
  await Promise.all([own?.quit(), managed?.quit(), clusterClient?.quit()]);
  await Promise.all([managedServer?.stop(), cluster?.stop(), restartingServer?.stop()]);
  expect(codes).toEqual([0, [0, 0]]);
}, 30_000);

test('without session_redis_url the sessions are in Herald’s own Redis; each namespace reads its own prefix and channel', async () => {
  await own.set('session-store-s1', 'ann');
  await own.set('sess:s1', 'ann');
  const plain = await client('/own');
  const custom = await client('/custom');
  plain.socket.emit('authenticate', { sessionId: 's1' });
  custom.socket.emit('authenticate', { sessionId: 's1' });
  await bound('/own', 's1', 'ann');
  await bound('/custom', 's1', 'ann');
  await own.publish('notifications', JSON.stringify({ users: ['ann'], data: 'on notifications' }));
  await own.publish('to-users', JSON.stringify({ users: ['ann'], data: 'on to-users' }));
  await until(async () => (plain.messages.length === 1 && custom.messages.length === 1 ? true : undefined));
  expect(plain.messages).toEqual(['on notifications']);
  expect(custom.messages).toEqual(['on to-users']);
  // Herald turned keyspace notifications on, keeping what was set.
  const flags = ((await own.config('GET', 'notify-keyspace-events')) as string[])[1]!;
  for (const flag of ['E', 'l', 'K', 'g', '$', 'x', 'e']) expect(flags).toContain(flag);
  await own.set('sess:s1', 'bea');
  await bound('/custom', 's1', 'bea');
  expect(await userOf('/own', 's1')).toEqual(['ann']);
});

test('a Redis that refuses CONFIG: authenticate works, and the connector says clearly that live re-binding needs notify-keyspace-events', async () => {
  await managed.set('session-store-m1', 'cid');
  const c = await client('/managed');
  c.socket.emit('authenticate', { sessionId: 'm1' });
  await bound('/managed', 'm1', 'cid');
  const warning = await stack.connectors[0]!.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('sessions: cannot enable keyspace notifications'));
  expect(warning.msg).toContain('notify-keyspace-events');
  expect(warning['redis']).toBe(managedServer.url.replace('redis://', 'redis://:***@'));
  // Once the operator sets it, sessions re-bind live (the subscription was there all along).
  await managed.call('CONFIG-9f3a1c', 'SET', 'notify-keyspace-events', 'Kg$x');
  await managed.set('session-store-m1', 'dan');
  await bound('/managed', 'm1', 'dan');
  // The URL's password is nowhere: not in the logs, not in the namespace's view.
  for (const service of [stack.connectors[0]!, stack.logic, worker]) expect(JSON.stringify(service.logs) + service.raw.join('\n')).not.toContain(PASSWORD);
  const view = await stack.api('/api/admin/namespace/list?key=/managed', { auth: ADMIN });
  expect(view.body.list[0].settings).toEqual({ session_redis_url_set: true });
});

test('a Redis Cluster: sessions on every master re-bind live; a notification is delivered once', async () => {
  // Session ids whose keys fall on each of the three masters (slot ranges split evenly).
  const ids: string[] = [];
  const masters = new Set<string>();
  for (let i = 0; masters.size < 3 && i < 1000; i++) {
    const id = `c${i}`;
    const slot = Number(await clusterClient.cluster('KEYSLOT', `session-store-${id}`));
    const master = String(Math.min(2, Math.floor(slot / (16384 / 3))));
    if (masters.has(master)) continue;
    masters.add(master);
    ids.push(id);
  }
  expect(ids).toHaveLength(3);
  const clients: { socket: Socket; messages: unknown[] }[] = [];
  for (const id of ids) {
    await clusterClient.set(`session-store-${id}`, `u-${id}`);
    const c = await client('/clustered');
    c.socket.emit('authenticate', { sessionId: id });
    await bound('/clustered', id, `u-${id}`);
    clients.push(c);
  }
  for (const id of ids) await clusterClient.set(`session-store-${id}`, 'shared');
  for (const id of ids) await bound('/clustered', id, 'shared');
  await clusterClient.publish('notifications', JSON.stringify({ users: ['shared'], data: 'once' }));
  await clusterClient.publish('notifications', JSON.stringify({ users: ['shared'], data: 'twice?' }));
  await until(async () => (clients.every((c) => c.messages.length === 2) ? true : undefined));
  for (const c of clients) expect(c.messages).toEqual(['once', 'twice?']);
  for (const id of ids) await clusterClient.del(`session-store-${id}`);
  for (const id of ids) await bound('/clustered', id, '__nouser__');
}, 30_000);

test('the application Redis restarts without the setting and without its data: Herald sets it again and looks every session up again', async () => {
  const app = new Redis(restartingServer.url);
  try {
    await app.set('session-store-r1', 'eve');
    const c = await client('/restarting');
    c.socket.emit('authenticate', { sessionId: 'r1' });
    await bound('/restarting', 'r1', 'eve');
    await restartingServer.restart();
    // The sessions were not persisted: the socket has no user any more, though no `del` was notified.
    await bound('/restarting', 'r1', '__nouser__');
    await until(async () => (((await app.config('GET', 'notify-keyspace-events').catch(() => [])) as string[])[1]?.includes('K') ? true : undefined), 10_000);
    await app.set('session-store-r1', 'fay');
    await bound('/restarting', 'r1', 'fay');
    await app.publish('notifications', JSON.stringify({ users: ['fay'], data: 'back' }));
    await until(async () => (c.messages.length === 1 ? true : undefined));
    expect(c.messages).toEqual(['back']);
  } finally {
    app.disconnect();
  }
}, 30_000);

test('an application Redis down when the first client authenticates: the socket is bound once it is up, without authenticating again', async () => {
  const late = await startRedis();
  try {
    await late.shutdown();
    await save('/late', { session_redis_url: late.url });
    const c = await client('/late');
    c.socket.emit('authenticate', { sessionId: 'l1' });
    await stack.connectors[0]!.waitForLog((line) => line.msg === 'sessions: cannot subscribe to the application Redis; trying again' && line['namespace'] === '/late', 15_000);
    expect(await userOf('/late', 'l1')).toEqual(['__nouser__']);
    await late.restart();
    const app = new Redis(late.url);
    try {
      await app.set('session-store-l1', 'hal');
      await bound('/late', 'l1', 'hal');
      await app.publish('notifications', JSON.stringify({ users: ['hal'], data: 'late' }));
      await until(async () => (c.messages.length === 1 ? true : undefined));
      expect(c.messages).toEqual(['late']);
    } finally {
      app.disconnect();
    }
  } finally {
    await late.stop();
  }
}, 40_000);

test('an application Redis that never answers: the socket stays connected without a user, other namespaces are served, the connector still stops cleanly', async () => {
  const nobody = await freePort();
  await save('/down', { session_redis_url: `redis://127.0.0.1:${nobody}` });
  const c = await client('/down');
  c.socket.emit('authenticate', { sessionId: 'd1' });
  await stack.connectors[0]!.waitForLog((line) => line.msg === 'sessions: cannot subscribe to the application Redis; trying again' && line['namespace'] === '/down', 15_000);
  await until(async () => ((await userOf('/down', 'd1')).length === 1 ? true : undefined));
  expect(await userOf('/down', 'd1')).toEqual(['__nouser__']);
  expect(c.socket.connected).toBe(true);
  // Left connected: afterAll stops the connector with this link still trying (exit code 0 expected).
  await own.set('session-store-other', 'ida');
  const other = await client('/own');
  other.socket.emit('authenticate', { sessionId: 'other' });
  await bound('/own', 'other', 'ida');
}, 30_000);
