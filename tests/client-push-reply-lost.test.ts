/**
 * A client push (the push protocol's socket `push` event) whose reply from Redis is lost with the
 * connection (the script ran, the answer never came back): the connector must not run it again after
 * reconnecting — ioredis' default would, storing and publishing the push twice under two ids that no
 * client can tell apart. The sender is answered with the catalogue's STORE_UNAVAILABLE instead; the
 * push is stored and delivered once. Client pushes carry no idempotency key: a retry is a new push.
 * Real processes: a connector talks to a real redis-server through a TCP proxy that swallows the
 * reply of one push and drops that connection; stock socket.io v4 clients.
 */
import { Redis } from 'ioredis';
import type { EventAck } from '@herald/wire';
import { Keys, NamespaceStore } from '@herald/store';
import { startRedis, startService, until, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { connectClient, emitWithAck, type Recorded } from './support/clients';
import { startReplySwallowingProxy, type ReplySwallowingProxy } from './support/reply-swallowing-proxy';

const keys = new Keys('h:');
const NSP = '/clost';
let server: TestRedis;
let redis: Redis;
let proxy: ReplySwallowingProxy;
let connector: ServiceProcess;
const opened: Recorded[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  await new NamespaceStore(redis, keys).save(NSP, { password: 'pw' });
  proxy = await startReplySwallowingProxy(server.port);
  connector = await startService('connector', {
    env: {
      HERALD_REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      HERALD_CONNECTOR_PORT: '0',
      HERALD_REDIS_COMMAND_TIMEOUT_MS: '1500',
      // The retry follows the lost push at once.
      HERALD_CLIENT_PUSH_INTERVAL_MS: '0',
    },
  });
});
afterAll(async () => {
  for (const c of opened) c.socket.close();
  expect(await connector.stop()).toBe(0);
  await proxy.close();
  await redis.quit();
  await server.stop();
});

function push(c: Recorded, data: unknown): Promise<EventAck & { id?: number }> {
  return new Promise((resolve) => c.socket.emit('push', data, resolve));
}

const received = (c: Recorded) => c.events.filter((e) => e.event === 'push').map((e) => e.args[0] as { id: number; pushData: unknown });

test('a client push whose reply was lost is stored and delivered once, and the sender gets STORE_UNAVAILABLE; a retry is a new push', async () => {
  const receiver = await connectClient(connector.port, NSP, { uuid: 'rcv' });
  const sender = await connectClient(connector.port, NSP, { uuid: 'snd' });
  opened.push(receiver, sender);
  expect(await emitWithAck(receiver.socket, 'joinRoom', 'r')).toEqual({ status: 200, msg: 'ok' });

  // The first push also loads the script on the connection (NOSCRIPT, then EVAL).
  expect(await push(sender, { room: 'r', pushData: { n: 1 } })).toEqual({ status: 200, msg: 'ok', id: 1 });

  proxy.swallowNext('pushData');
  const lost = await push(sender, { room: 'r', pushData: { n: 2 } });
  expect(proxy.swallowed).toBe(1);
  expect(lost).toEqual({ status: 503, msg: 'service unavailable, retry later' });
  // Redis ran the script once: one message more, not two.
  expect(await redis.get(keys.messageSeq(NSP))).toBe('2');
  expect(await redis.lrange(keys.history(NSP), 0, -1)).toEqual(['2', '1']);

  // The sender retries: the push protocol has no idempotency key for client pushes, so the retry is
  // stored as a new message, and the receiver sees the payload under two ids.
  expect(await push(sender, { room: 'r', pushData: { n: 2 } })).toEqual({ status: 200, msg: 'ok', id: 3 });
  expect(await redis.get(keys.messageSeq(NSP))).toBe('3');
  expect(await redis.hget(keys.message(NSP, 3), 'pushData')).toBe('{"n":2}');

  // Publishes reach the receiver in the order Redis ran the scripts: once 3 is there, a second run of
  // the lost push would have arrived before it.
  await until(async () => (received(receiver).some((m) => m.id === 3) ? true : undefined));
  expect(received(receiver).map((m) => [m.id, m.pushData])).toEqual([
    [1, { n: 1 }],
    [2, { n: 2 }],
    [3, { n: 2 }],
  ]);
  // The sender is excluded from its own pushes.
  expect(received(sender)).toEqual([]);
});
