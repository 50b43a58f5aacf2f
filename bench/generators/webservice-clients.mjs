/*
 * Load generator of S9: seed 001 (socket.io-webservice) clients — stock socket.io v4, namespace
 * /bench, `?token=<n>&deviceId=d<n>` — for Herald's webservice protocol and for the bare baseline,
 * which speak the same events. One process holds `count` devices; device i connects to
 * socketOrigins[i % n]. `step` POSTs `/send` at a fixed rate for a while (round robin over
 * sendOrigins), each to the user room of one random device of this process, and measures send →
 * receive latency (both ends here: one clock); every device acks every message as the seed's
 * clients do (the last argument). Driven by the orchestrator over IPC.
 */
import { io } from 'socket.io-client';
import { nowUs, sleepUntil } from '../lib/clock.mjs';
import { encode, newHistogram } from '../lib/hist.mjs';
import { serve } from '../lib/ipc.mjs';

let cfg;
let devices = [];
/** Per step: what was sent, accepted and received. */
let step;

function connectDevice(index) {
  const n = cfg.firstIndex + index;
  const url = `${cfg.socketOrigins[n % cfg.socketOrigins.length]}/bench?token=${n}&deviceId=d${n}`;
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60_000 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`device ${n}: no _settings`)), 60_000);
    socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message}`)));
    socket.on('bench', (stepId, sentAt, _pad, ack) => {
      if (typeof ack === 'function') ack();
      if (!step || step.id !== stepId) return void (step && step.stray++);
      step.received++;
      step.deliver.recordValue(Math.max(1, nowUs() - sentAt));
    });
    socket.on('_batch', (_events, ack) => ack?.());
    socket.once('_settings', () => {
      clearTimeout(timer);
      resolve({ n, socket });
    });
  });
}

serve(
  {
    init(config) {
      cfg = config;
      return {};
    },
    async connect() {
      const startedAt = nowUs();
      const lanes = Math.min(cfg.count, 50);
      devices = new Array(cfg.count);
      let next = 0;
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (next < cfg.count) {
            const i = next++;
            devices[i] = await connectDevice(i);
          }
        }),
      );
      return { done: devices.length, elapsedMs: (nowUs() - startedAt) / 1000 };
    },
    /** Sends at `rate`/s for `durationMs`, then waits up to `drainMs` for the answers and deliveries. */
    async step({ id, rate, durationMs, drainMs, padBytes = 0 }) {
      step = { id, sent: 0, accepted: 0, refused: 0, received: 0, stray: 0, rest: newHistogram(), deliver: newHistogram() };
      const current = step;
      const pad = 'x'.repeat(padBytes);
      const startUs = nowUs();
      const total = Math.max(1, Math.round((rate * durationMs) / 1000));
      const inflight = [];
      for (let k = 0; k < total; k++) {
        await sleepUntil(startUs + (k * 1_000_000) / rate);
        const to = devices[Math.floor(Math.random() * devices.length)];
        const origin = cfg.sendOrigins[k % cfg.sendOrigins.length];
        const sentAt = nowUs();
        current.sent++;
        inflight.push(
          fetch(`${origin}/send?site=bench&apiKey=${cfg.apiKey}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ rooms: [`user_${to.n}`], event: 'bench', args: [id, sentAt, pad] }),
          }).then(
            async (response) => {
              await response.text();
              if (response.status === 200) current.accepted++;
              else current.refused++;
              current.rest.recordValue(Math.max(1, nowUs() - sentAt));
            },
            () => void current.refused++,
          ),
        );
      }
      const windowUs = nowUs() - startUs;
      await Promise.all(inflight);
      const deadline = Date.now() + drainMs;
      while (current.received < current.accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      step = undefined;
      const { rest, deliver, ...counts } = current;
      return { ...counts, windowMs: windowUs / 1000, restHist: encode(rest), deliverHist: encode(deliver) };
    },
  },
  {},
  async () => {
    for (const device of devices) device?.socket.close();
  },
);
