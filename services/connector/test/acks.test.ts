import { Acks } from '../src/core/acks';
import type { ReportBatcher } from '../src/core/report-batcher';
import type { HeraldSocket } from '../src/core/socket-data';

/** A socket of namespace /a in the given adapter rooms, as Acks reads it. */
function socket(rooms: string[], clientId = 'c1'): HeraldSocket {
  return {
    nsp: { name: '/a' },
    rooms: new Set(rooms),
    data: { offered: new Set<number>(), identity: { namespace: '/a', platform: 'web', clientId } },
  } as unknown as HeraldSocket;
}

function setup(options: { windowMs?: number; maxEntries?: number } = {}) {
  let now = 1_000_000;
  const counted: number[] = [];
  const reports = { ack: (_namespace: string, id: number) => counted.push(id) } as unknown as ReportBatcher;
  const acks = new Acks(reports, options, () => now);
  return { acks, counted, advance: (ms: number) => (now += ms) };
}

test('an ack counts only for a message delivered to a room the socket is in, minus `except`', () => {
  const { acks, counted } = setup();
  acks.delivered('/a', 1, 'r:news', undefined, false);
  acks.delivered('/a', 2, 'r:news', 'c1', false);
  acks.delivered('/a', 3, 'r:other', undefined, false);
  const member = socket(['r:news', 'c:c1']);
  expect([1, 2, 3, 4].map((id) => acks.ack(member, id))).toEqual([true, false, false, false]);
  expect(counted).toEqual([1]);
});

test('the oldest deliveries are forgotten first beyond maxEntries, and the newest are kept', () => {
  const { acks } = setup({ maxEntries: 100 });
  for (let id = 1; id <= 10_000; id++) acks.delivered('/a', id, 'r:news', undefined, false);
  const member = socket(['r:news']);
  expect(acks.ack(member, 9_900)).toBe(false);
  expect(acks.ack(member, 9_901)).toBe(true);
  expect(acks.ack(member, 10_000)).toBe(true);
});

test('a delivery is forgotten after the window', () => {
  const { acks, advance } = setup({ windowMs: 1000 });
  acks.delivered('/a', 1, 'r:news', undefined, false);
  advance(600);
  acks.delivered('/a', 2, 'r:news', undefined, false);
  advance(600);
  acks.delivered('/a', 3, 'r:news', undefined, false);
  const member = socket(['r:news']);
  expect([1, 2, 3].map((id) => acks.ack(member, id))).toEqual([false, true, true]);
});

test('a message delivered again is remembered from its last delivery, not forgotten with its first', () => {
  const { acks } = setup({ maxEntries: 3 });
  acks.delivered('/a', 1, 'r:news', undefined, false);
  acks.delivered('/a', 2, 'r:news', undefined, false);
  acks.delivered('/a', 1, 'r:sport', undefined, false); // e.g. the catch-up of another path
  acks.delivered('/a', 3, 'r:news', undefined, false); // the first delivery of 1 leaves the queue
  expect(acks.ack(socket(['r:sport']), 1)).toBe(true);
  expect(acks.ack(socket(['r:news']), 1)).toBe(false); // judged by the last delivery's room
  acks.delivered('/a', 4, 'r:news', undefined, false);
  acks.delivered('/a', 5, 'r:news', undefined, false);
  acks.delivered('/a', 6, 'r:news', undefined, false);
  expect([1, 2, 3, 4, 5, 6].map((id) => acks.ack(socket(['r:news', 'r:sport']), id))).toEqual([false, false, false, true, true, true]);
});
