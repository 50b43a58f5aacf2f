/**
 * `npm run chaos` (issue 7): the long fault runs on the delivery ledger, not part of `npm test`.
 * Each scenario keeps pushes flowing for CHAOS_SECONDS (default 45) while it hurts processes, then
 * prints one `[ledger]` line: accepted, lost, duplicates, recovery p50/p95/max. The Redis SIGKILL
 * scenarios also print the window lost (accepted pushes whose message is gone after the restart)
 * and the push throughput, with `appendfsync everysec` and with `always`.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { QueueEvents } from 'bullmq';
import { Keys } from '@herald/store';
import { createTestCa, freePort, until } from '@herald/test-support';
import { LEDGER_NAMESPACE, LEDGER_TOPIC, Ledger, describeRecovery, ledgerPerTest, printLedger } from '../support/ledger';

const SECONDS = Number(process.env['CHAOS_SECONDS'] ?? 45);
const keys = new Keys('h:');
/** A ledger per test, stopped after it (every process left must exit 0 on SIGTERM). */
const startLedger = ledgerPerTest();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timeout = (SECONDS + 180) * 1000;

test('connector churn: one of three SIGKILLed or SIGTERMed every 3 s, restarted 1 s later', async () => {
  const ledger = await startLedger({ clients: 60, iosDevices: 5 });
  const load = ledger.load(20, 2);
  const end = Date.now() + SECONDS * 1000;
  let faults = 0;
  while (Date.now() < end) {
    await sleep(3000);
    const index = faults % 3;
    const signal = faults % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
    const code = await ledger.stopConnector(index, signal);
    expect(code).toBe(signal === 'SIGKILL' ? null : 0);
    await sleep(1000);
    await ledger.startConnector(index);
    faults++;
  }
  await load.stop();
  const result = await ledger.settle(120_000);
  printLedger(`connector churn (${faults} faults in ${SECONDS} s)`, result, ledger.clients.flatMap((c) => c.recoveries));
  expect(ledger.unexpected).toEqual([]);
  expect(ledger.unanswered).toEqual([]);
  expect(result.lost).toBe(0);
}, timeout);

test('worker churn: one of two SIGKILLed or SIGTERMed every 4 s in the middle of offline steps and APNs fan-outs', async () => {
  const ledger = await startLedger({ clients: 30, iosDevices: 100, workers: 2, env: { HERALD_JOB_LOCK_MS: '1500', HERALD_APNS_CONCURRENCY: '2' } });
  const events = new QueueEvents('apns', { connection: { host: '127.0.0.1', port: ledger.server.port }, prefix: 'h:q' });
  const stalled: string[] = [];
  events.on('stalled', ({ jobId }) => stalled.push(jobId));
  const load = ledger.load(200);
  const end = Date.now() + SECONDS * 1000;
  let faults = 0;
  while (Date.now() < end) {
    await sleep(4000);
    const victim = ledger.workers.shift()!;
    const signal = faults % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
    expect(await victim.stop(signal)).toBe(signal === 'SIGKILL' ? null : 0);
    await ledger.startWorker();
    faults++;
  }
  await load.stop();
  const result = await ledger.settle(180_000);
  await events.close();
  printLedger(`worker churn (${faults} faults in ${SECONDS} s)`, result, [], `stalled jobs taken over ${stalled.length}`);
  expect(ledger.unexpected).toEqual([]);
  expect(result.lost).toBe(0);
}, timeout + 120_000);

test('logic SIGKILLed every 5 s right after accepting pushes', async () => {
  const ledger = await startLedger({ clients: 30, iosDevices: 5 });
  const load = ledger.load(10, 2);
  const end = Date.now() + SECONDS * 1000;
  const recovery: number[] = [];
  let faults = 0;
  while (Date.now() < end) {
    await ledger.acceptedMore(50);
    const killed = Date.now();
    expect(await ledger.restartLogic('SIGKILL')).toBeNull();
    await ledger.acceptedMore(1);
    recovery.push(Date.now() - killed);
    faults++;
    await sleep(5000);
  }
  await load.stop();
  const result = await ledger.settle(120_000);
  printLedger(`logic SIGKILL (${faults} kills)`, result, recovery, `pushes without an answer ${ledger.unanswered.length}`);
  expect(ledger.unexpected).toEqual([]);
  expect(result.lost).toBe(0);
}, timeout);

/** Accepted pushes per second with 8 concurrent callers for `seconds`, 10 clients in the room. */
async function throughput(appendfsync: 'always' | 'everysec', seconds: number): Promise<number> {
  const bench = await Ledger.start({ appendfsync, clients: 10, iosDevices: 0, connectors: 1 });
  try {
    const load = bench.load(0, 8);
    const started = Date.now();
    await sleep(seconds * 1000);
    await load.stop();
    return Math.round(bench.accepted.size / ((Date.now() - started) / 1000));
  } finally {
    await bench.stop();
  }
}

test('push throughput with appendfsync everysec vs always (3 alternating rounds of 8 s each)', async () => {
  const rates: Record<'everysec' | 'always', number[]> = { everysec: [], always: [] };
  for (let round = 0; round < 3; round++) {
    for (const mode of ['everysec', 'always'] as const) rates[mode].push(await throughput(mode, 8));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  console.log(
    `[chaos] accepted pushes/s, 8 concurrent callers, 1 connector, 10 clients in the room: ` +
      `everysec ${rates.everysec.join('/')} (median ${median(rates.everysec)}), always ${rates.always.join('/')} (median ${median(rates.always)})`,
  );
  expect(median(rates.always)).toBeGreaterThan(0);
}, 300_000);

describe.each(['everysec', 'always'] as const)('Redis SIGKILLed under load, appendfsync %s', (appendfsync) => {
  test('window lost, id reuse, recovery', async () => {
    const ledger = await startLedger({ appendfsync, clients: 30, iosDevices: 3 });
    const load = ledger.load(0, 8);
    const windows: number[] = [];
    const recovery: number[] = [];
    let lostRecords = 0;
    let kills = 0;
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      await ledger.acceptedMore(300, 60_000);
      const killedAt = Date.now();
      await ledger.server.kill();
      await ledger.server.restart();
      const back = Date.now();
      await ledger.acceptedMore(1, 60_000);
      recovery.push(Date.now() - back);
      // Window lost: accepted before the kill, message gone after the restart.
      const before = [...ledger.accepted].filter(([, at]) => at <= killedAt).map(([id]) => id);
      const pipeline = ledger.redis.pipeline();
      for (const id of before) pipeline.exists(keys.message(LEDGER_NAMESPACE, id));
      const rows = (await pipeline.exec()) ?? [];
      const gone = before.filter((_, i) => rows[i]![1] === 0);
      const oldest = Math.min(...gone.map((id) => ledger.accepted.get(id)!));
      windows.push(gone.length ? killedAt - oldest : 0);
      lostRecords += ledger.forget(gone);
      kills++;
    }
    await load.stop();
    const result = await ledger.settle(120_000);
    printLedger(
      `Redis SIGKILL, appendfsync ${appendfsync} (${kills} kills)`,
      result,
      recovery,
      `window lost ${lostRecords} accepted pushes (max ${Math.max(...windows)} ms of acceptances), ids answered twice ${ledger.reusedIds.length}`,
    );
    console.log(`[chaos] appendfsync ${appendfsync}: redis back → first accepted push, ${describeRecovery(recovery)}`);
    expect(ledger.unexpected).toEqual([]);
    // Every push that Redis kept reached everybody.
    expect(result.lost).toBe(0);
    if (appendfsync === 'always') expect(lostRecords).toBe(0);
  }, timeout + 60_000);
});

test('Redis outage of 3 s every 10 s under load (graceful stop, then start)', async () => {
  const ledger = await startLedger({ clients: 30, iosDevices: 3 });
  const load = ledger.load(20, 2);
  const recovery: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  while (Date.now() < end) {
    await sleep(7000);
    await ledger.server.shutdown();
    await sleep(3000);
    await ledger.server.restart();
    const back = Date.now();
    await ledger.acceptedMore(1, 60_000);
    recovery.push(Date.now() - back);
  }
  await load.stop();
  const result = await ledger.settle(120_000);
  printLedger('Redis outages', result, recovery, `503 answers ${ledger.refused}`);
  expect(ledger.unexpected).toEqual([]);
  expect(result.lost).toBe(0);
  await until(async () => (ledger.clients.every((c) => c.socket?.connected) ? true : undefined));
}, timeout);

test('APNs faults kept until the last attempt: unreachable, untrusted server certificate, rejected client certificate', async () => {
  const stranger = await createTestCa('Not Apple');
  const strangerFile = stranger.writeCaFile();
  const badClient = await stranger.issueClientCertificate({ topic: LEDGER_TOPIC, environment: 'sandbox' });
  const ledgers: Ledger[] = [];
  try {
    const faults = {
      unreachable: async (l: Ledger) => l.startWorker({ HERALD_APNS_PORT: String(await freePort()) }),
      untrusted: (l: Ledger) => l.startWorker({ HERALD_APNS_CA: strangerFile }),
      badCertificate: async (l: Ledger) => {
        // apns_list entries merge by name: drop the token configuration first.
        await l.admin({ key: '/', apns_list: [{ name: 'default', del: true }] });
        await l.admin({ key: '/', apns_list: [{ name: 'default', apns_env: 'dev', apns_topic: LEDGER_TOPIC, apns_dev_cert: badClient.certPem, apns_dev_key: badClient.keyPem }] });
        return l.startWorker();
      },
    };
    const results = await Promise.all(
      Object.entries(faults).map(async ([name, start]) => {
        const l = await Ledger.start({ connectors: 1, workers: 0, clients: 2, iosDevices: 2 });
        ledgers.push(l);
        await start(l);
        for (let i = 0; i < 3; i++) await l.push();
        // 8 attempts with exponential backoff from 1 s: about two minutes.
        const result = await l.settle(240_000);
        const perDevice = l.devices.map((t) => l.mock.requests.filter((q) => q.token === t).length);
        printLedger(`APNs ${name}`, result, [], `requests per device ${perDevice.join('/')} for ${result.accepted} pushes; reasons ${JSON.stringify(result.reasons)}`);
        return { name, result, perDevice, workerAlive: l.workers.every((w) => w.child.exitCode === null) };
      }),
    );
    for (const { name, result, perDevice, workerAlive } of results) {
      expect(workerAlive).toBe(true);
      expect(result.lost).toBe(0);
      expect(result.acceptedByApns).toBe(0);
      expect(result.failedForGood).toBe(result.accepted * 2);
      // A TLS or TCP failure sends nothing; a rejected certificate costs one request per attempt.
      expect(perDevice).toEqual(name === 'badCertificate' ? [24, 24] : [0, 0]);
    }
  } finally {
    for (const l of ledgers) expect((await l.stop()).every((code) => code === 0)).toBe(true);
    rmSync(dirname(strangerFile), { recursive: true, force: true });
  }
}, 400_000);
