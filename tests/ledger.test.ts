/**
 * Fault scenarios on the delivery ledger (issue 7), fast versions for `npm test` (the long ones are
 * `npm run chaos`): pushes flow into a room of 30 acking Android clients on three connectors and
 * three offline iOS devices while a process is hurt; afterwards every accepted push has reached
 * every recipient (lost = 0) and the duplicates and recovery times are printed.
 */
import { QueueEvents } from 'bullmq';
import { until } from '@herald/test-support';
import { ledgerPerTest, percentile, printLedger } from './support/ledger';

/** A ledger per test, stopped after it (every process left must exit 0 on SIGTERM). */
const startLedger = ledgerPerTest();

test('SIGKILL of one of three connectors in the middle of a fan-out: its clients move, nothing is lost', async () => {
  const ledger = await startLedger();
  const load = ledger.load();
  await ledger.acceptedMore(25);
  const moved = ledger.clients.filter((c) => c.connector === 1);
  expect(await ledger.stopConnector(1, 'SIGKILL')).toBeNull();
  await until(async () => (moved.every((c) => c.recoveries.length === 1) ? true : undefined), 30_000);
  await ledger.acceptedMore(25);
  await load.stop();

  const result = await ledger.settle();
  const recovery = moved.flatMap((c) => c.recoveries);
  printLedger('SIGKILL 1 of 3 connectors', result, recovery);
  expect(ledger.unexpected).toEqual([]);
  expect(ledger.unanswered).toEqual([]);
  expect(result.lostIds).toEqual([]);
  expect(result.lost).toBe(0);
  expect(moved.every((c) => c.connector !== 1)).toBe(true);
  // What a killed connector's clients missed came from their inboxes.
  expect(result.replayedFromInbox).toBeGreaterThan(0);
}, 120_000);

test('graceful restart of every connector one by one (pm2 reload): nothing is lost', async () => {
  const ledger = await startLedger();
  const load = ledger.load();
  await ledger.acceptedMore(20);
  for (let i = 0; i < 3; i++) {
    const moved = ledger.clients.filter((c) => c.connector === i);
    const before = moved.map((c) => c.recoveries.length);
    expect(await ledger.stopConnector(i, 'SIGTERM')).toBe(0);
    await until(async () => (moved.every((c, k) => c.recoveries.length > before[k]!) ? true : undefined), 30_000);
    await ledger.startConnector(i);
    await ledger.acceptedMore(15);
  }
  await load.stop();

  const result = await ledger.settle();
  const recovery = ledger.clients.flatMap((c) => c.recoveries);
  printLedger('rolling restart of 3 connectors', result, recovery);
  expect(ledger.unexpected).toEqual([]);
  expect(ledger.unanswered).toEqual([]);
  expect(result.lostIds).toEqual([]);
  expect(result.lost).toBe(0);
}, 150_000);

test('graceful stop of a worker under load: exit 0, no stalled job, nothing lost', async () => {
  const ledger = await startLedger({ workers: 2 });
  const events = ['offline', 'apns'].map((name) => new QueueEvents(name, { connection: { host: '127.0.0.1', port: ledger.server.port }, prefix: 'h:q' }));
  const stalled: string[] = [];
  try {
    await Promise.all(events.map((e) => e.waitUntilReady()));
    events.forEach((e, i) => e.on('stalled', ({ jobId }) => stalled.push(`${i === 0 ? 'offline' : 'apns'} ${jobId}`)));
    const load = ledger.load();
    // The offline steps (1 s after each push) of the first pushes are running when the stop comes.
    await ledger.acceptedMore(60);
    const [first] = ledger.workers;
    expect(await first!.stop('SIGTERM')).toBe(0);
    await ledger.startWorker();
    await ledger.acceptedMore(30);
    await load.stop();

    const result = await ledger.settle();
    printLedger('graceful worker stop', result, [], `stalled jobs ${stalled.length}`);
    expect(ledger.unexpected).toEqual([]);
    expect(ledger.unanswered).toEqual([]);
    expect(result.lost).toBe(0);
    expect(stalled).toEqual([]);
    expect(first!.logs.filter((l) => l.level >= 50)).toEqual([]);
  } finally {
    await Promise.all(events.map((e) => e.close()));
  }
}, 120_000);

test('Redis restarted gracefully under load: 503 at once while it is down, sockets kept, no accepted push lost', async () => {
  const ledger = await startLedger();
  const load = ledger.load();
  await ledger.acceptedMore(25);
  const acceptedBefore = ledger.accepted.size;
  await ledger.server.shutdown();
  await until(async () => (ledger.refused >= 5 ? true : undefined), 30_000);
  await ledger.server.restart();
  const back = Date.now();
  await ledger.acceptedMore(1);
  const firstAccepted = Math.min(...[...ledger.accepted.values()].filter((at) => at >= back));
  await ledger.acceptedMore(25);
  await load.stop();

  const result = await ledger.settle();
  printLedger('Redis graceful restart', result, [firstAccepted - back], `503 answers ${ledger.refused}, slowest ${percentile(ledger.refusedMs, 100)} ms`);
  expect(ledger.accepted.size).toBeGreaterThan(acceptedBefore);
  expect(ledger.unexpected).toEqual([]);
  expect(ledger.unanswered).toEqual([]);
  expect(result.lost).toBe(0);
  // A 503 comes quickly, not after a hang: within the 3 s docs/reliability.md promises (the first
  // ones wait while Redis finishes its graceful shutdown and through ioredis' two retries; 1.5 s
  // was exceeded by 4 ms on a loaded 2-core machine).
  expect(percentile(ledger.refusedMs, 50)).toBeLessThan(3000);
  expect(percentile(ledger.refusedMs, 100)).toBeLessThan(5000);
  // Connectors kept their sockets through the outage.
  expect(ledger.clients.flatMap((c) => c.recoveries)).toEqual([]);
}, 120_000);
