/**
 * The connector pings v4 clients on a beat, not only after it has read their previous pong
 * (issue 13, core/ping-beat.ts). Engine.IO sends its next ping `pingInterval` after the previous
 * pong was read, and the ping waits behind what is queued to the client; under overload the two
 * delays add up between two pings until the gap passes the client's own deadline (interval +
 * timeout) and the client closes with "ping timeout", losing what was still queued to it: bench
 * S7 beside two CPU burners, 235 of 1 000 clients and 32 783 deliveries (with the beat: none, in
 * one run each).
 *
 * Here the pongs of a stock v4 client never reach the connector (the client does not send them,
 * as if they waited behind its acks): with a 1 000 ms interval and a 6 000 ms timeout, Engine.IO
 * alone pings once and then waits for the pong; on the beat the client keeps getting pings, and
 * the connector still closes it once the timeout passes without a pong.
 */
import { io } from 'socket.io-client';
import { until } from '@herald/test-support';
import { ADMIN, startStack, type Stack } from './support/stack';

const NS = '/beat';
const INTERVAL_MS = 1000;
const TIMEOUT_MS = 6000;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ connectors: 1, env: { HERALD_PING_INTERVAL_MS: String(INTERVAL_MS), HERALD_PING_TIMEOUT_MS: String(TIMEOUT_MS) } });
}, 60_000);

afterAll(async () => {
  const codes = await stack.stop();
  expect(codes).toEqual([0, 0]);
});

test('a v4 client whose pongs do not arrive still gets a ping every beat, and is closed after the timeout', async () => {
  expect((await stack.api('/api/admin/namespace/save', { auth: ADMIN, body: { key: NS, auth_passwd: 'beat-pw' } })).status).toBe(200);
  const socket = io(`http://127.0.0.1:${stack.connectors[0]!.port}${NS}`, {
    query: { uuid: 'beat-1', platform: 'web' },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const pings: number[] = [];
  let disconnect: string | undefined;
  socket.on('disconnect', (reason) => (disconnect = reason));
  await new Promise<void>((resolve, reject) => {
    socket.once('ok', () => resolve());
    socket.once('connect_error', reject);
  });
  // engine.io-client answers a ping with a pong from its (private) `_sendPacket`; this client drops its pongs.
  const engine = socket.io.engine as unknown as { _sendPacket: (type: string, ...rest: unknown[]) => void };
  const send = engine._sendPacket.bind(engine);
  engine._sendPacket = (type, ...rest) => {
    if (type !== 'pong') send(type, ...rest);
  };
  const connectedAt = Date.now();
  socket.io.on('ping', () => pings.push(Date.now() - connectedAt));

  await until(async () => disconnect, INTERVAL_MS + TIMEOUT_MS + 5000, 50);
  // Pings kept coming without a pong: at least one per beat (0.9 × interval) up to the timeout.
  expect(pings.length).toBeGreaterThanOrEqual(Math.floor(TIMEOUT_MS / INTERVAL_MS));
  const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
  expect(Math.max(...gaps)).toBeLessThan(INTERVAL_MS + 500);
  // The connector still found the silent client: closed once Engine.IO's own ping went unanswered.
  expect(disconnect).toBe('transport close');
  socket.close();
}, 30_000);
