/*
 * Load generator: seed 000 roomsync clients (stock socket.io v4 client on `/` of `/socket.io`), for
 * Herald's roomsync protocol and the bare B-sio roomsync server. One process holds whole rooms:
 * rooms firstRoom … firstRoom+rooms-1 of `perRoom` clients each, client i of a room on
 * urls[i % urls.length], uid `u<room>-<i>`. Client 0 of each room sends; the others receive.
 * Driven by the orchestrator over IPC (lib/ipc.mjs).
 */
import { io } from 'socket.io-client';
import { nowUs, sleepUntil } from '../lib/clock.mjs';
import { encode, newHistogram } from '../lib/hist.mjs';
import { serve } from '../lib/ipc.mjs';

let cfg;
/** rooms[r] = sockets of room firstRoom + r, index 0 the sender. */
let rooms = [];
let latency = newHistogram();
let received = 0;
let pad = '';

const answer = (socket, event) => new Promise((resolve) => socket.once(event, resolve));

async function open(room, i) {
  const socket = io(cfg.urls[i % cfg.urls.length], { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60_000 });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message}`)));
  });
  const auth = answer(socket, 'authenticate');
  socket.emit('authenticate', { uid: `u${room}-${i}`, token: '0000' });
  if ((await auth).status !== 0) throw new Error(`authenticate refused for u${room}-${i}`);
  const joined = answer(socket, 'join');
  socket.emit('join', { roomId: `room${room}` });
  if ((await joined).status !== 0) throw new Error(`join refused for u${room}-${i}`);
  if (i > 0) {
    socket.on('msg', (msg) => {
      const t = msg?.data?.t;
      if (typeof t !== 'number') return;
      latency.recordValue(Math.max(1, nowUs() - t));
      received++;
    });
  }
  return socket;
}

serve(
  {
    async init(config) {
      cfg = config;
      pad = 'x'.repeat(cfg.padBytes ?? 0);
      for (let r = 0; r < cfg.rooms; r++) {
        const room = cfg.firstRoom + r;
        const sockets = [];
        // Members one after the other (their rosters grow), rooms in parallel would be faster but
        // the set-up is not measured.
        for (let i = 0; i < cfg.perRoom; i++) sockets.push(await open(room, i));
        rooms.push(sockets);
      }
      return { clients: rooms.length * cfg.perRoom };
    },

    /** Each room's sender sends `perRoomRate` msgs/s for durationMs, timed from t0 (µs). */
    async relay({ perRoomRate, durationMs, t0, startN }) {
      latency = newHistogram();
      received = 0;
      const count = Math.round((perRoomRate * durationMs) / 1000);
      const intervalUs = 1e6 / perRoomRate;
      let lateness = 0;
      for (let k = 0; k < count; k++) {
        const due = t0 + Math.round(k * intervalUs);
        await sleepUntil(due);
        lateness = Math.max(lateness, nowUs() - due);
        for (const sockets of rooms) sockets[0].emit('msg', { data: { t: due, n: startN + k, pad }, storage: k % 10 === 9 ? 1 : 0, msgId: `m${(startN + k) % 50}` });
      }
      return { sent: count * rooms.length, maxLatenessMs: lateness / 1000 };
    },

    /** What the receivers got so far (the orchestrator polls until the expected count). */
    received() {
      return { received, latency: encode(latency) };
    },

    /** Every client syncs its room's whole history from offset 0, all at once. */
    async sync() {
      const durations = newHistogram();
      let messages = 0;
      const started = nowUs();
      await Promise.all(
        rooms.flat().map(async (socket) => {
          const begin = nowUs();
          let offset = 0;
          for (;;) {
            const page = answer(socket, 'sync');
            socket.emit('sync', { offset });
            const { data, offset: nextOffset, next } = await page;
            messages += data.length;
            offset = nextOffset;
            if (next === 0) break;
          }
          durations.recordValue(Math.max(1, nowUs() - begin));
        }),
      );
      return { messages, elapsedMs: (nowUs() - started) / 1000, durations: encode(durations) };
    },
  },
  {},
  async () => {
    for (const socket of rooms.flat()) socket.close();
  },
);
