/**
 * The chat protocol (seed 004) on a local Redis Cluster: two connectors, logic and a worker with
 * HERALD_REDIS_URL set to the node list. What the chat protocol adds crosses slots — session tokens
 * and conversations under the namespace's tag, the online check of many user rooms (one pipeline
 * per node), one push per target (PushService on the sharded path), the device registration
 * (client record, the user room's member sets and the namespace's indexes, each on its own tag) —
 * and must work there as on one Redis.
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { Keys } from '@herald/store';
import { startApnsMock, startService, until, type ApnsMock, type ServiceProcess, type TestRedisCluster } from '@herald/test-support';
import { basic } from './support/clients';
import { call, chatClient, nextMessage, type ChatSocket } from './support/chat';
import { ADMIN, startStack, type Stack } from './support/stack';

const TOPIC = 'com.herald.chat-cluster';
const NS = '/cchat';
const AUTH = basic(NS, 'pw');
const keys = new Keys('h:', { cluster: true });
let stack: Stack<TestRedisCluster>;
let worker: ServiceProcess;
let mock: ApnsMock;
let redis: Cluster;
const opened: ChatSocket[] = [];

beforeAll(async () => {
  mock = await startApnsMock({ topics: [TOPIC] });
  stack = await startStack({ cluster: true, connectors: 2, env: { HERALD_OFFLINE_DELAY_MS: '300', HERALD_SOCKET_PATHS: `/socket.io,/wechat=${NS}` } });
  worker = await startService('worker', {
    env: { ...stack.env, HERALD_APNS_HOST: '127.0.0.1', HERALD_APNS_PORT: String(mock.port), HERALD_APNS_CA: mock.caFile },
  });
  redis = new Cluster(stack.redis.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
  await redis.ping();
  const key = mock.providerKey!;
  const saved = await Promise.all([
    stack.api('/api/admin/namespace/save', {
      auth: ADMIN,
      body: { key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: TOPIC, token_key: key.key, token_keyId: key.keyId, token_teamId: key.teamId }] },
    }),
    stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, auth_passwd: 'pw', protocol: 'chat' } }),
  ]);
  expect(saved.map((s) => s.status)).toEqual([200, 200]);
}, 120_000);

afterAll(async () => {
  for (const socket of opened) socket.close();
  await redis?.quit();
  const workerCode = await worker?.stop();
  const codes = await stack?.stop();
  await mock?.close();
  expect(workerCode).toBe(0);
  expect(codes).toEqual([0, 0, 0]);
});

async function loggedIn(connector: number, userId: string) {
  const client = await chatClient(stack.connectors[connector]!.port, opened);
  const answer = await call(client.socket, 'logIn', { userId, socketId: client.socketId });
  expect(answer).toMatchObject({ statusCode: 200 });
  return { ...client, token: answer.body.sessionToken as string };
}

test('direct messages across connectors, the cluster-wide online result, inbox replay, APNs for a registered device, a conversation', async () => {
  const deviceToken = randomBytes(32).toString('hex');
  expect(await stack.api('/api/auth/chat/device', { auth: AUTH, body: { userId: 'cios', deviceToken } })).toEqual({ status: 200, body: { userId: 'cios', registered: true } });
  // The device is a member of its user's room for iOS (its room's slot, not the client's).
  expect(await redis.sismember(keys.roomMembersBy(NS, 'user_cios', 'ios'), `${NS}#cios#ios-chat`)).toBe(1);

  const a = await loggedIn(0, 'ca');
  const b = await loggedIn(1, 'cb');
  const c = await loggedIn(0, 'cc');
  // Many targets: their user rooms spread over the masters.
  const targets = ['cb', 'cc', 'cios', ...Array.from({ length: 20 }, (_, i) => `nobody${i}`)];
  const sent = await call(a.socket, 'message/direct', { sessionToken: a.token, targetIds: targets, type: 'text', textContent: '集群' });
  expect(sent).toEqual({ statusCode: 201, body: { id: expect.stringMatching(/^[A-Za-z0-9]{10}$/), sent: { online: ['cb', 'cc'], offline: targets.slice(2) } } });
  const expected = { metaData: { targetIds: targets, type: 'text', textContent: '集群', from: 'ca' }, id: sent.body.id };
  expect(await nextMessage(b)).toEqual([expected]);
  expect(await nextMessage(c)).toEqual([expected]);

  const [request] = await until(async () => {
    const requests = mock.requests.filter((r) => r.token === deviceToken);
    return requests.length > 0 ? requests : undefined;
  }, 15_000);
  expect(request!.payload).toEqual({ aps: { alert: { title: '您有一条未读消息', body: '集群' }, sound: 'default' }, id: sent.body.id });

  const later = await loggedIn(1, 'nobody7');
  expect(await nextMessage(later)).toEqual([expected]);

  const added = await call(b.socket, 'conversation/add', { sessionToken: b.token, members: ['ca', 'cc', 'nobody3'], name: 'cluster' });
  expect(added.statusCode).toBe(201);
  const group = await call(b.socket, 'message/group', { sessionToken: b.token, groupId: added.body.id, type: 'text', textContent: 'all' });
  expect(group.body.sent).toEqual({ online: ['ca', 'cc'], offline: ['nobody3'] });
  expect((await nextMessage(a))[0]).toEqual({ metaData: { groupId: added.body.id, type: 'text', textContent: 'all', from: 'cb' }, id: group.body.id });
}, 60_000);
