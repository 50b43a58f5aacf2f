import type { Logger } from '@herald/log';
import type { PushRequest } from '@herald/wire';
import { storedEnvelope } from '@herald/publish';
import { Keys, MessageStore, Scripts } from '@herald/store';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import type { HeraldNamespace, HeraldServer } from '../src/core/socket-data';
import { SubscriberCatchUp } from '../src/core/subscriber-catch-up';

const keys = new Keys('h:');
let server: TestRedis;
let redis: Redis;
let sub: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  sub = new Redis(server.url, { connectionName: 'catch-up-sub', retryStrategy: () => 20 });
  sub.on('error', () => undefined);
});
afterAll(async () => {
  sub.disconnect();
  await redis.quit();
  await server.stop();
});

function request(room: string, extra?: string): PushRequest {
  return { room, pushData: { room }, apnsName: undefined, leaveMessage: false, except: undefined, expire: 1, extra };
}

/** A namespace of the server as the catch-up sees it: a name and its sockets. */
function namespace(name: string, sockets: number): HeraldNamespace {
  return { name, sockets: new Map(Array.from({ length: sockets }, (_, i) => [`s${i}`, {}])) } as unknown as HeraldNamespace;
}

test('after its subscriber reconnects, a server re-delivers the gap of the namespaces it serves, oldest first, once, without `extra: "lost"`', async () => {
  const messages = new MessageStore(redis, keys, new Scripts(redis));
  const served = namespace('/cu', 1);
  const fake = { _nsps: new Map([['/', namespace('/', 1)], ['/cu', served], ['/empty', namespace('/empty', 0)]]) } as unknown as HeraldServer;
  const delivered: number[] = [];
  const logged: Record<string, unknown>[] = [];
  let caughtUp!: () => void;
  const done = new Promise<void>((resolve) => (caughtUp = resolve));
  const logger = {
    info: (fields: Record<string, unknown>) => {
      logged.push(fields);
      caughtUp();
    },
    warn: (fields: Record<string, unknown>) => logged.push({ warn: true, ...fields }),
  } as unknown as Logger;
  const catchUp = new SubscriberCatchUp(
    fake,
    sub,
    {
      history: (nsp, page, size) => messages.history(nsp, page, size),
      envelope: storedEnvelope,
      deliver: (_nsp, envelope) => {
        delivered.push(envelope.message.id);
        return 1;
      },
    },
    logger,
    { marginMs: 0, pageSize: 2 },
  );
  await sub.psubscribe('catch-up-test*');

  // The gap is told by sendDate: one message from before the loss, the others stamped later.
  const later = Date.now() + 60_000;
  const store = async (nsp: string, push: PushRequest, sendDate: number): Promise<number> => {
    const outcome = await messages.accept(nsp, [{ request: push, audience: 0 }], {}, sendDate);
    if (outcome.kind !== 'accepted') throw new Error(outcome.kind);
    return outcome.pushes[0]!.id;
  };
  await store('/cu', request('r'), Date.now() - 60_000);
  const live = await store('/cu', request('r'), later);
  await store('/cu', request('r', 'lost'), later);
  const first = await store('/cu', request('r'), later);
  const second = await store('/cu', request('r'), later);
  await store('/empty', request('r'), later);
  // Delivered live before the loss: the catch-up must not send it again.
  expect(catchUp.deliver(served, storedEnvelope((await messages.report('/cu', live))!)!)).toBe(1);
  expect(logged).toEqual([]); // the first 'ready' was no gap

  const [line] = ((await redis.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes('name=catch-up-sub'));
  expect(await redis.call('CLIENT', 'KILL', 'ID', /(?:^| )id=(\d+)/.exec(line!)![1]!)).toBe(1);
  await done;

  expect(delivered).toEqual([live, first, second]);
  expect(logged).toEqual([expect.objectContaining({ namespaces: 1, redelivered: 2 })]);
  // A live copy of a message the catch-up delivered (published as the subscriber returned) is dropped.
  expect(catchUp.deliver(served, storedEnvelope((await messages.report('/cu', second))!)!)).toBe(0);
  expect(delivered).toEqual([live, first, second]);
  catchUp.stop();
});
