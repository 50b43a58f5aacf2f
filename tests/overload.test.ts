/**
 * Overload (issue 13): one connector process, hundreds of stock socket.io clients in one room,
 * every client acks every push, pushes offered faster than the connector writes and counts them,
 * and Redis' writes paused for a moment in the middle (Redis slow: the report path must wait, keep
 * every update and slow its intake, not drop). Verdict after quiescence: every client got every
 * accepted push (no whole push lost, no copy lost), no socket was lost, and every report is exact:
 * onlineClientCount and ackCount equal the room's size.
 *
 * Before the fix the connector's report batcher wrote one batch at a time and, once 200 000
 * updates waited, dropped the oldest with one error line each; the synchronous logging and
 * `Array.shift` starved the event loop until every client's ping timed out, and the pushes
 * published meanwhile reached no one (bench S7, docs/reliability.md "Above capacity").
 */
import { io } from 'socket.io-client';
import { until } from '@herald/test-support';
import { basic, type TestSocket } from './support/clients';
import { reportCounts, useReportStack } from './support/report-stack';
import { ADMIN } from './support/stack';

const NS = '/overload';
const PASSWORD = 'overload-pw';
const CLIENTS = 400;
const RATE = 60; // pushes/s: 24 000 deliveries + 24 000 acks a second offered to one connector
const SECONDS = 8;

// A small bound, so that the pause below reaches it: intake must pause, not drop.
const setup = useReportStack({ HERALD_REPORT_MAX_PENDING: '500' });

test('a saturated connector with acking clients loses no push and its reports end exact', async () => {
  const { stack, redis, sockets } = setup;
  expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, auth_passwd: PASSWORD } })).status).toBe(200);
  const port = stack.connectors[0]!.port;
  const received: Set<number>[] = [];
  const disconnects: string[] = [];
  const latencies: number[] = [];
  const connectOne = async (i: number): Promise<void> => {
    const socket: TestSocket = io(`http://127.0.0.1:${port}${NS}`, {
      query: { uuid: `o${i}`, platform: 'web' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 60_000,
    });
    const ids = new Set<number>();
    received[i] = ids;
    sockets.push(socket);
    socket.on('push', (message) => {
      ids.add(message.id);
      latencies.push(Date.now() - (message.pushData as { at: number }).at);
      socket.emit('ackPush', { id: message.id });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('ok', () => resolve());
      socket.once('connect_error', reject);
    });
    socket.on('disconnect', (reason) => disconnects.push(reason));
    const joined = await socket.timeout(60_000).emitWithAck('joinRoom', 'r');
    expect(joined).toEqual({ status: 200, msg: 'ok' });
  };
  for (let i = 0; i < CLIENTS; i += 50) await Promise.all(Array.from({ length: Math.min(50, CLIENTS - i) }, (_, k) => connectOne(i + k)));

  // The third-party server: RATE pushes a second on a fixed timeline, from 16 concurrent callers.
  const accepted: number[] = [];
  const refused: string[] = [];
  const total = RATE * SECONDS;
  const start = Date.now();
  let next = 0;
  const caller = async () => {
    while (next < total) {
      const n = next++;
      const due = start + (n * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const response = await fetch(`http://127.0.0.1:${stack.logic.port}/api/auth/push`, {
        method: 'POST',
        headers: { authorization: basic(NS, PASSWORD), 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'r', pushData: { n, at: Date.now() } }),
      });
      const text = await response.text();
      if (response.status === 200) accepted.push((JSON.parse(text) as { id: number }).id);
      else refused.push(`${response.status} ${text}`);
    }
  };
  // Redis slow for 1.5 s in the middle of the load: writes (scripts, PUBLISH) wait, reads go on.
  const pause = new Promise((r) => setTimeout(r, (SECONDS * 1000) / 3)).then(() => redis.client('PAUSE', 1500, 'WRITE'));
  await Promise.all([...Array.from({ length: 16 }, caller), pause]);
  const sentFor = Date.now() - start;
  const inWindow = received.reduce((a, ids) => a + ids.size, 0);

  // Quiescence: every accepted push reaches every client (late is allowed, lost is not).
  const expected = accepted.length * CLIENTS;
  const count = () => received.reduce((a, ids) => a + accepted.filter((id) => ids.has(id)).length, 0);
  await until(async () => (count() === expected ? true : undefined), 180_000, 100).catch(() => undefined);
  const drainedAfter = Date.now() - start - sentFor;
  const lostCopies = expected - count();
  const wholePushesLost = accepted.filter((id) => received.every((ids) => !ids.has(id))).length;

  // Every ack sent (one per received push) ends in the reports.
  const readReports = () => reportCounts(redis, NS, accepted);
  await until(async () => ((await readReports()).every(([a, o]) => a === CLIENTS && o === CLIENTS) ? true : undefined), 60_000, 200).catch(() => undefined);
  const reports = await readReports();
  const logs = stack.connectors[0]!.logs;
  const paused = logs.some((l) => l.msg.startsWith('report path at its bound'));
  const warnings: Record<string, number> = {};
  for (const l of logs.filter((x) => x.level >= 40)) warnings[l.msg] = (warnings[l.msg] ?? 0) + 1;
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `[overload] ${CLIENTS} acking clients, ${RATE} pushes/s offered for ${SECONDS} s (${RATE * CLIENTS} deliveries + as many acks a second): ` +
      `accepted ${accepted.length} (refused ${refused.length}); ${Math.round(inWindow / (sentFor / 1000))} deliveries/s while pushing, backlog delivered ${drainedAfter} ms later; ` +
      `push→receive p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms; lost copies ${lostCopies}, whole pushes lost ${wholePushesLost}; ` +
      `report intake paused: ${paused}; connector warnings: ${JSON.stringify(warnings)}`,
  );

  // Redis slow under load: the connector slowed its intake at the bound instead of dropping.
  expect(paused).toBe(true);
  expect(refused).toEqual([]);
  expect(accepted).toHaveLength(total);
  expect(wholePushesLost).toBe(0);
  expect(lostCopies).toBe(0);
  expect(disconnects).toEqual([]);
  expect(reports.filter(([a]) => a !== CLIENTS)).toEqual([]);
  expect(reports.filter(([, o]) => o !== CLIENTS)).toEqual([]);
  // Summaries, not a line per update; nothing at error level.
  expect(logs.filter((l) => l.level >= 50)).toEqual([]);
  expect(logs.filter((l) => l.level >= 40).length).toBeLessThan(20);
}, 400_000);
