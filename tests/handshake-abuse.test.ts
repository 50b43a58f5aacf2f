/**
 * Handshake abuse (issue 7): 1 000 socket.io handshakes per second for a few seconds against one
 * connector — half with bad query values (refused), half valid and dropped at once. The connector
 * does not crash, keeps answering /health, lets a legitimate client in during the storm, and what
 * its heap holds after a full garbage collection comes back near where it was before (6 000
 * handshakes later).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { Keys } from '@herald/store';
import { REPO_ROOT, until } from '@herald/test-support';
import { connectClient, emitWithAck } from './support/clients';
import { ADMIN, startStack, type Stack } from './support/stack';

const NS = '/abuse';
const keys = new Keys('h:');
let stack: Stack;
let redis: Redis;
const probeDir = mkdtempSync(join(tmpdir(), 'herald-abuse-'));
const probeFile = join(probeDir, 'memory.json');
/** Clients to close in afterAll, also when an assertion failed first. */
const opened: { close(): unknown }[] = [];

beforeAll(async () => {
  // The bench's memory probe (bench/lib/probe.cjs): on SIGUSR2 the connector collects garbage twice
  // and writes process.memoryUsage(); the connector is otherwise unchanged.
  stack = await startStack({
    connectors: 1,
    env: { NODE_OPTIONS: `--expose-gc --require "${join(REPO_ROOT, 'bench', 'lib', 'probe.cjs')}"`, BENCH_PROBE_FILE: probeFile },
  });
  redis = new Redis(stack.redis.url);
  expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS } })).status).toBe(200);
});
afterAll(async () => {
  for (const socket of opened) socket.close();
  await redis.quit();
  const codes = await stack.stop();
  expect(codes).toEqual([0, 0]);
  rmSync(probeDir, { recursive: true, force: true });
});

/**
 * The connector's memory after two full garbage collections, in MB: `heapUsed` is what it holds
 * (a leak), `rss` what the system gives it (which also follows when V8 returns free pages).
 */
async function memoryMb(pid: number): Promise<{ heapUsed: number; rss: number }> {
  const before = existsSync(probeFile) ? (JSON.parse(readFileSync(probeFile, 'utf8')) as { at: number }).at : 0;
  process.kill(pid, 'SIGUSR2');
  return until(
    async () => {
      if (!existsSync(probeFile)) return undefined;
      const sample = JSON.parse(readFileSync(probeFile, 'utf8')) as { at: number; heapUsed: number; rss: number };
      return sample.at > before ? { heapUsed: sample.heapUsed / 2 ** 20, rss: sample.rss / 2 ** 20 } : undefined;
    },
    10_000,
    50,
  );
}

type Outcome = 'connected' | 'refused' | 'error';

/**
 * One handshake over a raw WebSocket (engine.io v4 + socket.io v5 packets): cheaper than a full
 * client, so that the test process can open 1 000 a second. Resolves with how it ended.
 */
/** Why handshakes ended in `error`, counted by reason (printed with the figures). */
const errorReasons = new Map<string, number>();
const countError = (reason: string) => errorReasons.set(reason, (errorReasons.get(reason) ?? 0) + 1);

function handshake(port: number, query: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&${query}`);
    const done = (outcome: Outcome) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      countError('timeout');
      done('error');
    }, 20_000);
    ws.on('message', (data) => {
      const packet = data.toString();
      if (packet.startsWith('0')) ws.send(`40${NS},`);
      else if (packet.startsWith(`44${NS},`)) done('refused');
      else if (packet.startsWith(`40${NS},`)) done('connected');
      else if (packet === '2') ws.send('3');
    });
    ws.on('error', (error: Error & { code?: string }) => {
      countError(`error ${error.code ?? error.message}`);
      done('error');
    });
    ws.on('close', (code: number) => {
      countError(`close ${code}`);
      done('error');
    });
  });
}

/** `perSecond` handshakes a second for `seconds`, started in 10 ms ticks; resolves when all ended. */
async function storm(port: number, perSecond: number, seconds: number): Promise<Record<Outcome, number> & { offeredPerSecond: number }> {
  const counts: Record<Outcome, number> = { connected: 0, refused: 0, error: 0 };
  const running: Promise<void>[] = [];
  const perTick = perSecond / 100;
  const started = Date.now();
  for (let tick = 0; tick < seconds * 100; tick++) {
    for (let i = 0; i < perTick; i++) {
      const n = tick * perTick + i;
      const query = n % 2 === 0 ? `uuid=storm${n}&platform=android` : `uuid=storm${n}&platform=${encodeURIComponent('<bogus>')}`;
      running.push(handshake(port, query).then((o) => void counts[o]++));
    }
    const wait = started + (tick + 1) * 10 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const offeredPerSecond = Math.round(running.length / ((Date.now() - started) / 1000));
  await Promise.all(running);
  return { ...counts, offeredPerSecond };
}

test('1 000 handshakes a second for 3 s: no crash, /health answers, a legitimate client connects, memory comes back', async () => {
  const connector = stack.connectors[0]!;
  const port = connector.port;
  // Warm-up: the first storm grows the heap to its working size; the baseline is taken after it.
  await storm(port, 1000, 1);
  await until(async () => ((await redis.scard(keys.namespaceOnline(NS))) === 0 ? true : undefined), 30_000, 100);
  const baseline = await memoryMb(connector.child.pid!);

  const health: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      expect(await response.text()).toBe('hello');
      health.push(Date.now() - started);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const storming = storm(port, 1000, 3);
  // In the middle of the storm a real client gets in and works.
  await new Promise((r) => setTimeout(r, 1000));
  const joinedAt = Date.now();
  const legit = await connectClient(port, NS, { uuid: 'legit', platform: 'web' });
  opened.push(legit.socket);
  expect((await emitWithAck(legit.socket, 'joinRoom', 'room')).status).toBe(200);
  const legitMs = Date.now() - joinedAt;
  const counts = await storming;
  probing = false;
  await probe;

  const settled = async () => {
    await until(async () => ((await redis.scard(keys.namespaceOnline(NS))) === 1 ? true : undefined), 30_000, 100);
    // Let the sockets' buffers and timers go before measuring.
    await new Promise((r) => setTimeout(r, 2000));
    return memoryMb(connector.child.pid!);
  };
  const after = await settled();
  // A second storm: memory that leaks per handshake grows again by the same amount.
  const again = await storm(port, 1000, 3);
  const afterAgain = await settled();
  const sorted = [...health].sort((a, b) => a - b);
  console.log(
    `handshake storm 3 s at ${counts.offeredPerSecond}/s: ${counts.connected} connected, ${counts.refused} refused, ${counts.error} failed; ` +
      `/health p50 ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms; legitimate client in ${legitMs} ms; ` +
      `heap used after GC ${baseline.heapUsed.toFixed(1)} MB before, ${after.heapUsed.toFixed(1)} MB after, ${afterAgain.heapUsed.toFixed(1)} MB after a second storm (${again.offeredPerSecond}/s); ` +
      `RSS ${baseline.rss.toFixed(0)} / ${after.rss.toFixed(0)} / ${afterAgain.rss.toFixed(0)} MB; failed by reason ${JSON.stringify(Object.fromEntries(errorReasons))}`,
  );
  expect(connector.child.exitCode).toBeNull();
  expect(counts.connected + counts.refused).toBe(3000);
  expect(counts.refused).toBe(1500);
  expect(health.length).toBeGreaterThan(5);
  expect(sorted.at(-1)!).toBeLessThan(5000);
  expect(legitMs).toBeLessThan(10_000);
  expect(again.connected + again.refused).toBe(3000);
  // What the heap holds after a full GC is back near the warm baseline after 6 000 handshakes: a
  // leak of 2 KB per handshake would add 12 MB and fail it. (Resident memory is only logged: it
  // follows when V8 returns free pages to the system, which moved it by 20-50 % between storms on a
  // loaded machine, and made the RSS check of this test fail there without any leak.)
  expect(Math.max(after.heapUsed, afterAgain.heapUsed)).toBeLessThan(baseline.heapUsed + 8);
}, 120_000);
