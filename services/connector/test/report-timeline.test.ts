/**
 * The connector's report batches write the delivery timeline (admin console) in the same script call
 * as the counters: who delivered to how many sockets, who acked when — a client's first ack only —,
 * within the cap, and nothing at all when the timeline is switched off.
 */
import { createLogger } from '@herald/log';
import { InboxStore, Keys, MessageStore, MessageTimeline, Scripts } from '@herald/store';
import { startRedis, type TestRedis } from '@herald/test-support';
import { Redis } from 'ioredis';
import { ReportBatcher } from '../src/core/report-batcher';

const keys = new Keys('h:');
const NSP = '/tl';
let server: TestRedis;
let redis: Redis;
let scripts: Scripts;
let messages: MessageStore;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  scripts = new Scripts(redis);
  messages = new MessageStore(redis, keys, scripts);
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});

function batcher(options: { timelineMaxEntries?: number } = {}): ReportBatcher {
  return new ReportBatcher(scripts, keys, new InboxStore(redis, keys, scripts), createLogger('test', 'silent'), { connectorId: 'conn-1', ...options });
}

async function store(): Promise<number> {
  const { id } = await messages.store(NSP, { room: 'r', pushData: {}, apnsName: undefined, leaveMessage: false, except: undefined, expire: 1, extra: undefined });
  return id;
}

test('deliveries and first acks are on the timeline with their connector, client and time', async () => {
  const id = await store();
  const reports = batcher();
  const before = Date.now();
  reports.delivered(NSP, id, 3);
  reports.ack(NSP, id, 'web', `${NSP}#a#web-1`);
  reports.ack(NSP, id, 'android', `${NSP}#b#android-2`);
  reports.ack(NSP, id, 'web', `${NSP}#a#web-1`);
  await reports.close();
  // A repeat in a later batch adds nothing either.
  const later = batcher();
  later.ack(NSP, id, 'web', `${NSP}#a#web-1`);
  await later.close();

  const view = await new MessageTimeline(redis, keys, scripts).read(NSP, id);
  const stored = view!.entries.slice(1);
  expect(stored).toEqual([
    { at: expect.any(Number), step: 'delivered', connector: 'conn-1', sockets: 3 },
    { at: expect.any(Number), step: 'acked', clientId: `${NSP}#a#web-1`, platform: 'web' },
    { at: expect.any(Number), step: 'acked', clientId: `${NSP}#b#android-2`, platform: 'android' },
  ]);
  for (const entry of stored) expect(entry.at).toBeGreaterThanOrEqual(before);
  expect(view!.dropped).toBe(0);
  expect(await messages.report(NSP, id)).toMatchObject({ onlineClientCount: 3, ackCount: 2, ackAndroidCount: 1 });
});

test('past the cap only the count grows; the counters stay exact', async () => {
  const id = await store();
  const reports = batcher({ timelineMaxEntries: 4 });
  for (let i = 0; i < 10; i++) reports.ack(NSP, id, 'ios', `${NSP}#u${i}#ios-${i}`);
  await reports.close();
  // A later batch finds the list full: its entries are counted, the first ones kept.
  const later = batcher({ timelineMaxEntries: 4 });
  for (let i = 10; i < 13; i++) later.ack(NSP, id, 'ios', `${NSP}#u${i}#ios-${i}`);
  await later.close();
  const view = await new MessageTimeline(redis, keys, scripts).read(NSP, id);
  expect(view!.entries.slice(1).map((e) => (e.step === 'acked' ? e.clientId : e.step))).toEqual([0, 1, 2, 3].map((i) => `${NSP}#u${i}#ios-${i}`));
  expect(view!.dropped).toBe(9);
  expect(await redis.llen(keys.timeline(NSP, id))).toBe(4);
  expect(await messages.report(NSP, id)).toMatchObject({ ackCount: 13, ackIOSCount: 13 });
});

test('HERALD_TIMELINE_MAX_ENTRIES=0 writes no timeline', async () => {
  const id = await store();
  const reports = batcher({ timelineMaxEntries: 0 });
  reports.delivered(NSP, id, 1);
  reports.ack(NSP, id, 'web', `${NSP}#a#web-1`);
  await reports.close();
  expect(await redis.exists(keys.timeline(NSP, id))).toBe(0);
  expect((await new MessageTimeline(redis, keys, scripts).read(NSP, id))!.dropped).toBe(0);
  expect(await messages.report(NSP, id)).toMatchObject({ onlineClientCount: 1, ackCount: 1 });
});
