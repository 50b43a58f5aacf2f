/**
 * Idempotent publish across real logic processes (issue 14): a retry with the same Idempotency-Key
 * after logic was SIGKILLed between accepting a push and answering it, and while the first request
 * is still in flight, gets the first answer and pushes nothing again.
 *
 * The window is hit deterministically: logic talks to Redis through a TCP relay that can hold
 * Redis' replies. With replies held, the push script runs (its PUBLISH is seen on a subscriber of
 * our own) but logic never learns it: it cannot have answered when it is killed.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { offlineJobId } from '@herald/queues';
import { Keys } from '@herald/store';
import { startRedis, startService, until, type ServiceProcess, type TestRedis } from '@herald/test-support';
import { basic } from './support/clients';
import { ADMIN, ADMIN_PASSWORD } from './support/stack';

const keys = new Keys('h:');
const NSP = '/idem';
const AUTH = basic(NSP, 'pw');
let server: TestRedis;
let redis: Redis;
let subscriber: Redis;
let relay: Relay;
const services: ServiceProcess[] = [];
/** Ids of the pushes published to the connectors' channel of the namespace, in order. */
const published: number[] = [];

/** A TCP relay to Redis whose Redis → client direction can be held (and later released, in order). */
interface Relay {
  readonly port: number;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

function startRelay(target: number): Promise<Relay> {
  let holding = false;
  const held: { socket: Socket; data: Buffer }[] = [];
  const sockets = new Set<Socket>();
  const relayServer: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (data) => upstream.write(data));
    upstream.on('data', (data) => (holding ? held.push({ socket: client, data }) : client.write(data)));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  return new Promise((resolve) => {
    relayServer.listen(0, '127.0.0.1', () => {
      resolve({
        port: (relayServer.address() as { port: number }).port,
        hold: () => void (holding = true),
        release: () => {
          holding = false;
          for (const { socket, data } of held.splice(0)) if (!socket.destroyed) socket.write(data);
        },
        close: () => {
          for (const socket of sockets) socket.destroy();
          return new Promise<void>((done) => relayServer.close(() => done()));
        },
      });
    });
  });
}

async function startLogic(redisPort: number): Promise<ServiceProcess> {
  const logic = await startService('logic', {
    env: { HERALD_REDIS_URL: `redis://127.0.0.1:${redisPort}`, HERALD_ADMIN_PASSWORD: ADMIN_PASSWORD, HERALD_LOGIC_PORT: '0', HERALD_OFFLINE_DELAY_MS: '60000' },
  });
  services.push(logic);
  return logic;
}

async function push(logic: ServiceProcess, body: unknown, key?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${logic.port}/api/auth/push`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const seq = async () => Number(await redis.get(keys.messageSeq(NSP)));

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  subscriber = new Redis(server.url);
  // The classic adapter's request channel of the namespace: what every connector would get.
  await subscriber.subscribe(`${keys.socketIoChannel()}-request#${NSP}#`);
  subscriber.on('message', (_channel: string, message: string) => published.push(JSON.parse(message).data[1].message.id as number));
  relay = await startRelay(server.port);
  const direct = await startLogic(server.port);
  const saved = await fetch(`http://127.0.0.1:${direct.port}/api/admin/namespace/save`, {
    method: 'POST',
    headers: { authorization: ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ key: NSP, auth_passwd: 'pw' }),
  });
  expect(saved.status).toBe(200);
  await redis.sadd(keys.roomOnline(NSP, 'r'), 'a', 'b');
});
afterAll(async () => {
  for (const s of services) await s.stop('SIGKILL');
  await relay.close();
  await Promise.all([redis.quit(), subscriber.quit()]);
  await server.stop();
});

test('SIGKILL of logic after its push script ran and before it answered: the retry gets the same id and expectAckCount, and nothing is stored or published again', async () => {
  const doomed = await startLogic(relay.port);
  // Credentials verified and the script loaded on its connection before the window.
  expect((await push(doomed, { room: 'r', pushData: { warm: true } })).status).toBe(200);
  await until(async () => (published.length === 1 ? true : undefined));
  const before = await seq();

  relay.hold();
  const body = { room: 'r', pushData: { order: 1 }, leaveMessage: true };
  const lost = push(doomed, body, 'order-1');
  lost.catch(() => undefined);
  // The script ran: the push is stored, its record written.
  await until(async () => ((await redis.get(keys.idempotency(NSP, 'order-1'))) !== null ? true : undefined), 10_000);
  expect(await seq()).toBe(before + 1);
  await doomed.stop('SIGKILL');
  await expect(lost).rejects.toThrow(); // the caller never got an answer
  relay.release();
  // leaveMessage: the script stored without publishing, and logic died before its job and publish.
  expect(published).toHaveLength(1);

  const restarted = await startLogic(server.port);
  const retry = await push(restarted, body, 'order-1');
  expect(retry).toEqual({ status: 200, body: { id: before + 1, expectAckCount: 2 } });
  expect(await seq()).toBe(before + 1);
  // The retry enqueued the offline job the first request never did.
  expect(await redis.exists(`h:q:offline:${offlineJobId(NSP, before + 1)}`)).toBe(1);
  // Nothing published by the retry: the next message on the channel is the next push.
  const next = await push(restarted, { room: 'r', pushData: {} });
  await until(async () => (published.length === 2 ? true : undefined));
  expect(published).toEqual([before, next.body.id]);
  expect(next.body.id).toBe(before + 2);
}, 60_000);

test('a retry on another logic while the first request is still in flight gets the first answer; so does the first', async () => {
  const slow = await startLogic(relay.port);
  expect((await push(slow, { room: 'r', pushData: { warm: true } })).status).toBe(200);
  const other = await startLogic(server.port);
  const before = await seq();
  const publishedBefore = published.length;

  relay.hold();
  const body = { room: 'r', pushData: { order: 2 } };
  const first = push(slow, body, 'order-2');
  await until(async () => ((await redis.get(keys.idempotency(NSP, 'order-2'))) !== null ? true : undefined), 10_000);
  // The first request is accepted but not answered; the retry goes to another logic process.
  const retry = await push(other, body, 'order-2');
  expect(retry).toEqual({ status: 200, body: { id: before + 1, expectAckCount: 2 } });
  relay.release();
  expect(await first).toEqual(retry);
  expect(await seq()).toBe(before + 1);
  await until(async () => (published.length === publishedBefore + 1 ? true : undefined));
  // A different body under the key, from either process, is refused.
  expect((await push(other, { room: 'r', pushData: { order: 3 } }, 'order-2')).status).toBe(422);
  expect(published.slice(publishedBefore)).toEqual([before + 1]);
}, 60_000);
