/**
 * PushService on a real redis-server, with a real socket.io server on the classic Redis adapter as
 * the connector side: one script call per push (store, audience, publish, rate limit, idempotency
 * record), the batch, and a publish that Redis refuses (issue 12: logged, never an unhandled
 * rejection).
 */
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Server } from 'socket.io';
import { Errors, HeraldError, validatePushRequest, type PushEnvelope } from '@herald/wire';
import { OfflineQueue, offlineJobId } from '@herald/queues';
import { Keys } from '@herald/store';
import { startRedis, until, type TestRedis } from '@herald/test-support';
import { ConnectorBus, PushService } from '../src';

const keys = new Keys('t:');
const NSP = '/n';
let server: TestRedis;
let admin: Redis;
let pub: Redis;
let sub: Redis;
let io: Server;
/** Every `herald:push` the connector side got, in order. */
const received: PushEnvelope[] = [];
const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
);
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** A PushService of its own (connection, queue) on `url`, closed by the returned function. */
function service(url: string): { push: PushService; bus: ConnectorBus; redis: Redis; queue: OfflineQueue; close: () => Promise<void> } {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const queue = new OfflineQueue(new Redis(url, { maxRetriesPerRequest: null }), keys.queuePrefix());
  const bus = new ConnectorBus(redis, keys, logger);
  const push = new PushService(redis, keys, bus, queue, { offlineDelayMs: 60_000 }, logger);
  return { push, bus, redis, queue, close: async () => (await queue.close(), redis.disconnect()) };
}

const request = (room: string, extra: Record<string, unknown> = {}) => validatePushRequest({ room, pushData: { room, ...extra } }, false);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startRedis();
  admin = new Redis(server.url);
  [pub, sub] = [new Redis(server.url), new Redis(server.url)];
  io = new Server(createServer(), { adapter: createAdapter(pub, sub, { key: keys.socketIoChannel() }) });
  io.of(NSP).on('herald:push', (envelope: PushEnvelope) => received.push(envelope));
  // The adapter subscribes to its request channel once the namespace exists.
  await until(async () => ((await admin.pubsub('NUMSUB', `${keys.socketIoChannel()}-request#${NSP}#`))[1] === 1 ? true : undefined));
  // Three clients online in room r1, one in r2.
  await admin.sadd(keys.roomOnline(NSP, 'r1'), 'a', 'b', 'c');
  await admin.sadd(keys.roomOnline(NSP, 'r2'), 'd');
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await new Promise((resolve) => io.close(resolve));
  await Promise.all([pub.quit(), sub.quit(), admin.quit()]);
  await server.stop();
});

/** The commands `redis` sent itself (not those its scripts ran) while `run` ran, read with MONITOR. */
async function commandsSent<T>(redis: Redis, run: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
  const addr = /addr=(\S+)/.exec((await redis.client('INFO')) as string)![1]!;
  const monitor = await admin.duplicate().monitor();
  const commands: string[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source.endsWith(addr)) commands.push(args[0]!.toLowerCase());
  });
  try {
    const result = await run();
    // MONITOR sees a command when Redis runs it; a PING on the monitored connection comes after.
    await redis.ping();
    await until(async () => (commands.at(-1) === 'ping' ? true : undefined));
    return { result, commands: commands.slice(0, -1) };
  } finally {
    monitor.disconnect();
  }
}

test('a push is one command: the script stores it, counts its audience, and publishes the envelope the connector side gets', async () => {
  const s = service(server.url);
  try {
    await s.push.push(NSP, request('r2')); // loads the script on this connection (EVAL)
    await until(async () => (received.length === 1 ? true : undefined));
    received.length = 0;
    const { result, commands } = await commandsSent(s.redis, () => s.push.push(NSP, request('r1', { except: undefined }), undefined, { authFailures: { key: keys.authFailures('10.0.0.1'), limit: 20 } }));
    expect(commands).toEqual([expect.stringMatching(/^eval(sha)?$/)]);
    expect(result).toEqual({ id: 2, expectAckCount: 3 });
    await until(async () => (received.length === 1 ? true : undefined));
    // `inbox: false`: no inbox can hold a push without leaveMessage, so its acks clear none.
    expect(received[0]).toEqual({ message: { id: 2, namespace: NSP, room: 'r1', pushData: { room: 'r1' }, sendDate: expect.any(Number) }, inbox: false });
    expect(await admin.hget(keys.message(NSP, 2), 'room')).toBe('r1');
    expect(await admin.lrange(keys.history(NSP), 0, -1)).toEqual(['2', '1']);
    // except: counted out of the audience, and carried in the envelope.
    const excepted = await s.push.push(NSP, validatePushRequest({ room: 'r1', pushData: {}, except: 'b' }, false));
    expect(excepted.expectAckCount).toBe(2);
    await until(async () => (received.length === 2 ? true : undefined));
    expect(received[1]!.except).toBe('b');
  } finally {
    await s.close();
  }
});

test('a batch is one command; answers and publishes keep the request order', async () => {
  const s = service(server.url);
  try {
    received.length = 0;
    const before = Number(await admin.get(keys.messageSeq(NSP)));
    const batch = [request('r1'), request('r2'), validatePushRequest({ room: 'r1', pushData: {}, extra: 'lost' }, false), request('nobody')];
    const { result, commands } = await commandsSent(s.redis, () => s.push.pushBatch(NSP, batch));
    expect(commands).toEqual([expect.stringMatching(/^eval(sha)?$/)]);
    expect(result).toEqual([
      { id: before + 1, expectAckCount: 3 },
      { id: before + 2, expectAckCount: 1 },
      { id: before + 3, expectAckCount: 3 },
      { id: before + 4, expectAckCount: 0 },
    ]);
    // extra:"lost" is stored but not published.
    await until(async () => (received.length === 3 ? true : undefined));
    expect(received.map((e) => [e.message.id, e.message.room])).toEqual([[before + 1, 'r1'], [before + 2, 'r2'], [before + 4, 'nobody']]);
    expect(await admin.exists(keys.message(NSP, before + 3))).toBe(1);
  } finally {
    await s.close();
  }
});

test('an address at its failed-authentication limit is refused by the script, and nothing is stored or published', async () => {
  const s = service(server.url);
  try {
    await admin.set(keys.authFailures('10.0.0.9'), 20);
    const before = await admin.get(keys.messageSeq(NSP));
    received.length = 0;
    const refused = s.push.push(NSP, request('r1'), undefined, { authFailures: { key: keys.authFailures('10.0.0.9'), limit: 20 } });
    await expect(refused).rejects.toMatchObject({ code: Errors.TOO_MANY_ATTEMPTS.code });
    expect(await admin.get(keys.messageSeq(NSP))).toBe(before);
    // One below the limit passes.
    await admin.set(keys.authFailures('10.0.0.9'), 19);
    await s.push.push(NSP, request('r1'), undefined, { authFailures: { key: keys.authFailures('10.0.0.9'), limit: 20 } });
    await until(async () => (received.length === 1 ? true : undefined));
  } finally {
    await s.close();
  }
});

describe('idempotency key', () => {
  const idem = (key: string, digest: string) => ({ idempotency: { key, digest, ttlS: 3600 } });

  test('the same key and body answer the first result, and store and publish nothing again; another body is refused', async () => {
    const s = service(server.url);
    try {
      received.length = 0;
      const first = await s.push.push(NSP, request('r1'), undefined, idem('k-1', 'digest-a'));
      const seq = await admin.get(keys.messageSeq(NSP));
      await admin.srem(keys.roomOnline(NSP, 'r1'), 'c'); // the audience changes: the answer does not
      const again = await s.push.push(NSP, request('r1'), undefined, idem('k-1', 'digest-a'));
      expect(again).toEqual(first);
      expect(first.expectAckCount).toBe(3);
      const other = s.push.push(NSP, request('r1'), undefined, idem('k-1', 'digest-b'));
      await expect(other).rejects.toMatchObject({ code: Errors.IDEMPOTENCY_KEY_REUSED.code, status: 422 });
      expect(await admin.get(keys.messageSeq(NSP))).toBe(seq);
      // Keys are per namespace, and the record expires with its TTL.
      expect((await s.push.push('/other', request('r1'), undefined, idem('k-1', 'digest-b'))).id).toBe(1);
      expect(await admin.ttl(keys.idempotency(NSP, 'k-1'))).toBeGreaterThan(3500);
      // One publish only (the other namespace has no adapter here).
      await s.push.push(NSP, request('r2'));
      await until(async () => (received.length === 2 ? true : undefined));
      expect(received.map((e) => e.message.id)).toEqual([first.id, Number(seq) + 1]);
      await admin.sadd(keys.roomOnline(NSP, 'r1'), 'c');
    } finally {
      await s.close();
    }
  });

  test('a retry re-enqueues a leaveMessage push’s offline job that the first call never enqueued, unless its offline step ran', async () => {
    const s = service(server.url);
    try {
      const kept = validatePushRequest({ room: 'r1', pushData: {}, leaveMessage: true }, false);
      const first = await s.push.push(NSP, kept, undefined, idem('k-offline', 'd'));
      const job = () => s.queue.bull.getJob(offlineJobId(NSP, first.id));
      expect(await job()).toBeDefined();
      // As if logic had died between the store script and the enqueue.
      await (await job())!.remove();
      expect(await s.push.push(NSP, kept, undefined, idem('k-offline', 'd'))).toEqual(first);
      expect(await job()).toBeDefined();
      // Once the offline step ran (it writes `offline` on the report), a retry enqueues nothing.
      await (await job())!.remove();
      await admin.hset(keys.message(NSP, first.id), 'offline', 'inbox:0 apns:0');
      expect(await s.push.push(NSP, kept, undefined, idem('k-offline', 'd'))).toEqual(first);
      expect(await job()).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  test('a batch replays as a whole', async () => {
    const s = service(server.url);
    try {
      const batch = [request('r1'), request('r2')];
      const first = await s.push.pushBatch(NSP, batch, idem('k-batch', 'b'));
      expect(await s.push.pushBatch(NSP, batch, idem('k-batch', 'b'))).toEqual(first);
      expect(first.map((r) => r.id)).toEqual([first[0]!.id, first[0]!.id + 1]);
      await expect(s.push.pushBatch(NSP, batch.slice(1), idem('k-batch', 'b'))).rejects.toBeInstanceOf(HeraldError);
    } finally {
      await s.close();
    }
  });
});

describe('a publish Redis refuses (issue 12)', () => {
  let refusing: ReturnType<typeof service>;
  beforeAll(async () => {
    // A user that may do everything but PUBLISH, inside scripts too (ACLs apply there).
    await admin.call('ACL', 'SETUSER', 'nopub', 'on', '>pw', '~*', '&*', '+@all', '-publish');
    refusing = service(server.url.replace('redis://', 'redis://nopub:pw@'));
  });
  afterAll(() => refusing.close());

  const refusals = () => logLines.filter((line) => line['msg'] === 'redis refused the publish to the connectors; the offline step re-delivers');

  test('published by the store script: the push is accepted and stored, the refusal logged', async () => {
    const before = refusals().length;
    const { id } = await refusing.push.push(NSP, request('r1'));
    expect(await admin.hget(keys.message(NSP, id), 'id')).toBe(String(id));
    await until(async () => (refusals().length === before + 1 ? true : undefined));
    expect(refusals().at(-1)).toMatchObject({ level: 40, namespace: NSP, event: 'herald:push', err: expect.stringMatching(/can't run this command/) });
  });

  test('published after the offline job (leaveMessage) and transfer notices: logged, never an unhandled rejection', async () => {
    const before = refusals().length;
    const { id } = await refusing.push.push(NSP, validatePushRequest({ room: 'r1', pushData: {}, leaveMessage: true }, false));
    expect(await refusing.queue.bull.getJob(offlineJobId(NSP, id))).toBeDefined();
    refusing.bus.transfer({ namespace: NSP, sourceRooms: ['r1'], targetRoom: 'r2', type: 'join' });
    await until(async () => (refusals().length === before + 2 ? true : undefined));
    expect(refusals().slice(-2).map((line) => line['event']).sort()).toEqual(['herald:push', 'herald:transfer']);
    // Give a rejection that nobody handled the turn of the event loop Node needs to report it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });
});
