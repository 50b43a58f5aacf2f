/*
 * Load generator of S8: seed 004 chat clients (stock socket.io v4 client, root namespace on path
 * `/wechat`) for Herald's chat protocol and for the bare baseline, which speak the same events.
 * One process holds `count` users chat<firstIndex> … ; user i connects to origins[i % n], waits for
 * `connected`, logs in. `step` sends `message/direct` at a fixed rate for a while, each from a
 * random user to one other random user (all online), and measures send → ack and send → `message`
 * latency (both ends are in this process: one clock). Driven by the orchestrator over IPC.
 */
import { io } from 'socket.io-client';
import { nowUs, sleepUntil } from '../lib/clock.mjs';
import { encode, newHistogram } from '../lib/hist.mjs';
import { serve } from '../lib/ipc.mjs';

let cfg;
let users = [];

function logIn(index) {
  const userId = `chat${cfg.firstIndex + index}`;
  const socket = io(cfg.origins[(cfg.firstIndex + index) % cfg.origins.length], { path: '/wechat', transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60_000 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${userId}: no logIn answer`)), 60_000);
    socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message}`)));
    socket.once('connected', ({ socketId }) => {
      socket.emit('logIn', { userId, socketId }, (answer) => {
        clearTimeout(timer);
        if (answer?.statusCode !== 200) return reject(new Error(`${userId}: logIn ${JSON.stringify(answer)}`));
        resolve({ userId, socket, token: answer.body.sessionToken });
      });
    });
  });
}

/** Per step: what was sent, answered and received. */
let step;

function onMessage(message) {
  const sentAt = message?.metaData?.sentAt;
  if (!step || typeof sentAt !== 'number' || message.metaData.step !== step.id) return (step && step.stray++, undefined);
  step.received++;
  step.deliver.recordValue(Math.max(1, nowUs() - sentAt));
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
      users = new Array(cfg.count);
      let next = 0;
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (next < cfg.count) {
            const i = next++;
            users[i] = await logIn(i);
            users[i].socket.on('message', onMessage);
          }
        }),
      );
      return { done: users.length, elapsedMs: (nowUs() - startedAt) / 1000 };
    },
    /** Sends at `rate`/s for `durationMs`, then waits up to `drainMs` for the answers and deliveries. */
    async step({ id, rate, durationMs, drainMs, padBytes = 0 }) {
      step = { id, sent: 0, acked: 0, online: 0, offline: 0, refused: 0, received: 0, stray: 0, ack: newHistogram(), deliver: newHistogram() };
      const current = step;
      const pad = 'x'.repeat(padBytes);
      const startUs = nowUs();
      const total = Math.max(1, Math.round((rate * durationMs) / 1000));
      for (let n = 0; n < total; n++) {
        await sleepUntil(startUs + (n * 1_000_000) / rate);
        const from = users[Math.floor(Math.random() * users.length)];
        let to = users[Math.floor(Math.random() * users.length)];
        if (to === from) to = users[(users.indexOf(from) + 1) % users.length];
        const sentAt = nowUs();
        current.sent++;
        from.socket.emit('message/direct', { sessionToken: from.token, targetIds: [to.userId], type: 'text', textContent: `hi${pad}`, sentAt, step: id }, (answer) => {
          if (answer?.statusCode !== 201) return void current.refused++;
          current.acked++;
          current.online += answer.body.sent.online.length;
          current.offline += answer.body.sent.offline.length;
          current.ack.recordValue(Math.max(1, nowUs() - sentAt));
        });
      }
      const windowUs = nowUs() - startUs;
      const deadline = Date.now() + drainMs;
      while ((current.acked + current.refused < current.sent || current.received < current.online) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      step = undefined;
      const { ack, deliver, ...counts } = current;
      return { ...counts, windowMs: windowUs / 1000, ackHist: encode(ack), deliverHist: encode(deliver) };
    },
  },
  {},
  async () => {
    for (const user of users) user?.socket.close();
  },
);
