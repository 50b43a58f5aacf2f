/*
 * Load generator: stock socket.io v4 clients (the ones Herald's users run), for Herald and for
 * B-sio, which speak the same events. One process holds `count` clients with global indexes
 * firstIndex … firstIndex+count-1; client i talks to urls[i % urls.length] as uuid = userid =
 * <prefix><i>. Driven by the orchestrator over IPC (lib/ipc.mjs).
 */
import { io } from 'socket.io-client';
import { nowUs, sleepUntil } from '../lib/clock.mjs';
import { encode, newHistogram } from '../lib/hist.mjs';
import { serve } from '../lib/ipc.mjs';
import { deviceToken } from '../lib/tokens.mjs';
import { lanes, Tracker } from './tracker.mjs';

let cfg;
let tracker;
let sockets = [];
let closing = false;
const disconnects = {};

const globalIndex = (local) => cfg.firstIndex + local;
const query = (local) => {
  const id = `${cfg.uuidPrefix}${globalIndex(local)}`;
  return { uuid: id, userid: id, platform: cfg.platform ?? 'web' };
};

function open(local) {
  return io(cfg.urls[globalIndex(local) % cfg.urls.length], {
    query: query(local),
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 60_000,
  });
}

/** Resolves on `ok` (both Herald and B-sio send it once the connection is set up). */
function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once('ok', resolve);
    socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message}`)));
  });
}

function emitAck(socket, event, payload) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${event}: no answer`)), 60_000);
    socket.emit(event, payload, (answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

async function connectOne(local) {
  const socket = open(local);
  sockets[local] = socket;
  socket.on('push', (message) => {
    if (tracker.onPush(local, message) && cfg.ack) {
      socket.emit('ackPush', { id: message.id });
      tracker.onAck(message.id);
    }
  });
  socket.on('disconnect', (reason) => {
    if (!closing) disconnects[reason] = (disconnects[reason] ?? 0) + 1;
  });
  try {
    await connected(socket);
  } catch (error) {
    socket.close();
    throw error;
  }
  if (cfg.rooms?.length) {
    const answer = await emitAck(socket, 'joinRoom', cfg.rooms);
    if (answer?.status !== 200) throw new Error(`joinRoom: ${JSON.stringify(answer)}`);
  }
}

function closeAll() {
  closing = true;
  for (const socket of sockets) socket?.close();
  sockets = [];
}

serve(
  {
    init(config) {
      cfg = config;
      tracker = new Tracker(cfg);
      return {};
    },
    async connect() {
      const startedAt = nowUs();
      sockets = new Array(cfg.count);
      const result = await lanes(cfg.count, cfg.connectConcurrency ?? 100, connectOne);
      return { ...result, elapsedMs: (nowUs() - startedAt) / 1000 };
    },
    counts: () => ({ ...tracker.counts(), disconnects }),
    /**
     * What the clients hold that the server has not got: packets in socket.io's send buffer
     * (emitted while the client thought itself disconnected: sent only on reconnect), in
     * engine.io's write buffer, and bytes in the WebSocket's buffer.
     */
    outbound() {
      const held = { sendBuffer: 0, writeBuffer: 0, wsBufferedBytes: 0, clientsHolding: 0 };
      for (const socket of sockets) {
        if (!socket) continue;
        const engine = socket.io.engine;
        const send = socket.sendBuffer.length;
        const write = engine?.writeBuffer?.length ?? 0;
        const ws = engine?.transport?.ws?.bufferedAmount ?? 0;
        held.sendBuffer += send;
        held.writeBuffer += write;
        held.wsBufferedBytes += ws;
        if (send + write + ws > 0) held.clientsHolding++;
      }
      return held;
    },
    snapshot: () => ({ ...tracker.snapshot(), disconnects }),
    finish: (args) => ({ ...tracker.finish(args), disconnects }),
    close() {
      closeAll();
      return {};
    },

    /**
     * Makes every client a member of `rooms` that is then offline: connect, join, optionally
     * register an APNs device token (iOS), disconnect. For the offline scenarios (S4, S5).
     */
    async prepare({ rooms, withDeviceToken }) {
      const startedAt = nowUs();
      const result = await lanes(cfg.count, cfg.connectConcurrency ?? 100, async (local) => {
        const socket = open(local);
        try {
          await connected(socket);
          const joined = await emitAck(socket, 'joinRoom', rooms);
          if (joined?.status !== 200) throw new Error(`joinRoom: ${JSON.stringify(joined)}`);
          if (withDeviceToken) {
            const set = await emitAck(socket, 'info', { device_token: deviceToken(globalIndex(local)) });
            if (set?.status !== 200) throw new Error(`info: ${JSON.stringify(set)}`);
          }
          const gone = new Promise((resolve) => socket.once('disconnect', resolve));
          socket.close();
          await gone;
        } finally {
          socket.close();
        }
      });
      return { ...result, elapsedMs: (nowUs() - startedAt) / 1000 };
    },

    /**
     * The reconnect storm (S5): at `atUs` every client connects at once and must get each of
     * `expectIds` (through `offlineMessage`, acked at once, or a live `push`). Completion time per
     * client = when it holds all of them, from `atUs`.
     */
    async storm({ atUs, expectIds, timeoutMs }) {
      const expected = new Set(expectIds);
      const completion = newHistogram();
      const connectLatency = newHistogram();
      let complete = 0;
      let duplicates = 0;
      let unexpected = 0;
      let outOfOrder = 0;
      let connectErrors = 0;
      const errors = {};
      const seen = Array.from({ length: cfg.count }, () => new Set());
      let settled = 0;
      let finish;
      const done = new Promise((resolve) => (finish = resolve));
      const settle = () => {
        if (++settled === cfg.count) finish();
      };
      const receive = (local, message) => {
        const ids = seen[local];
        if (!expected.has(message?.id)) {
          unexpected++;
          return;
        }
        if (ids.has(message.id)) {
          duplicates++;
          return;
        }
        ids.add(message.id);
        if (ids.size === expected.size) {
          complete++;
          completion.recordValue(Math.max(1, nowUs() - atUs));
          settle();
        }
      };
      await sleepUntil(atUs);
      closing = false;
      sockets = new Array(cfg.count);
      for (let local = 0; local < cfg.count; local++) {
        const socket = open(local);
        sockets[local] = socket;
        socket.on('offlineMessage', (messages, ack) => {
          let last = -Infinity;
          for (const message of messages) {
            if (message.id < last) outOfOrder++;
            last = message.id;
            receive(local, message);
          }
          if (typeof ack === 'function') ack();
        });
        socket.on('push', (message) => receive(local, message));
        socket.once('ok', () => connectLatency.recordValue(Math.max(1, nowUs() - atUs)));
        socket.once('connect_error', (error) => {
          connectErrors++;
          const key = String(error.message).slice(0, 80);
          errors[key] = (errors[key] ?? 0) + 1;
          settle();
        });
      }
      const timer = setTimeout(finish, timeoutMs);
      await done;
      clearTimeout(timer);
      let gaps = 0;
      for (const ids of seen) gaps += expected.size - ids.size;
      return {
        clients: cfg.count,
        complete,
        duplicates,
        unexpected,
        outOfOrder,
        gaps,
        connectErrors,
        errors,
        completion: encode(completion),
        connectLatency: encode(connectLatency),
      };
    },
  },
  {},
  async () => closeAll(),
);
