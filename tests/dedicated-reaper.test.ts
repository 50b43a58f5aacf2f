/**
 * A connector dedicated to some protocols (HERALD_PROTOCOLS) still cleans up after a dead connector
 * of another protocol: here the only survivor serves `push`, the one that dies served `webservice`,
 * and the webservice devices it held — a client of its own (`deviceId`) and an anonymous tab — are
 * disconnected by the push connector's reaper, so that device_ttl prunes them
 * (docs/protocols/webservice.md, "Known limits"; docs/reliability.md, "Heartbeat and reaper").
 */
import { Redis } from 'ioredis';
import { Keys, WebserviceStore } from '@herald/store';
import { until } from '@herald/test-support';
import { ADMIN, startStack, type Stack } from './support/stack';
import { startSite, wsConnect, type Site, type WsClient } from './support/webservice';

let stack: Stack;
let site: Site;
let redis: Redis;
let store: WebserviceStore;
const open: WsClient[] = [];

beforeAll(async () => {
  site = await startSite();
  site.rooms.set('u1', ['user_1']);
  site.rooms.set('u2', ['user_2']);
  // The stack's one connector serves the push protocol only; a fast heartbeat reaps within a second.
  stack = await startStack({ connectors: 1, env: { HERALD_PROTOCOLS: 'push', HERALD_CONNECTOR_HEARTBEAT_MS: '300' } });
  redis = new Redis(stack.redis.url);
  store = new WebserviceStore(redis, new Keys('h:'));
  const saved = await stack.api('/api/admin/namespace/save', {
    auth: ADMIN,
    body: { key: '/site', protocol: 'webservice', settings: { auth_url: `${site.url}/rooms`, api_key: 'the-site-api-key-0123456789', user_room_prefix: 'user_', device_ttl: 3600 } },
  });
  expect(saved).toEqual({ status: 200, body: {} });
}, 60_000);

afterAll(async () => {
  for (const client of open) client.socket.close();
  redis?.disconnect();
  await stack?.stop();
  await site?.close();
});

test('the push connector reaps a dead webservice connector: its device and its anonymous tab are disconnected', async () => {
  const victim = await stack.startConnector({ HERALD_PROTOCOLS: 'webservice' });
  const device = await wsConnect('v4', victim.port, '/site', { token: 'u1', deviceId: 'phone' });
  const tab = await wsConnect('v4', victim.port, '/site', { token: 'u2' });
  open.push(device, tab);
  await device.nth('_settings');
  await tab.nth('_settings');
  const connected = async () => [(await store.devices('/site', 'user_1'))['phone']?.connected, (await store.devices('/site', 'user_2'))['']?.connected];
  await until(async () => ((await connected()).every((c) => c === true) ? true : undefined));

  expect(await victim.stop('SIGKILL')).toBeNull();
  await until(async () => ((await connected()).every((c) => c === false) ? true : undefined), 10_000);
  expect(await connected()).toEqual([false, false]);
  expect(await redis.keys(`${store.base('/site')}anon:*`)).toEqual([]);
});
