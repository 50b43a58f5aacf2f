/*
 * Load generator for B-ws: raw `ws` clients. Same commands and checks as sio-clients.mjs; the
 * rooms go in the URL (B-ws has no join event) and an ack is {"ack":id}.
 */
import WebSocket from 'ws';
import { nowUs } from '../lib/clock.mjs';
import { serve } from '../lib/ipc.mjs';
import { lanes, Tracker } from './tracker.mjs';

let cfg;
let tracker;
let sockets = [];
let closing = false;
const disconnects = {};

function connectOne(local) {
  const i = cfg.firstIndex + local;
  const id = `${cfg.uuidPrefix}${i}`;
  const rooms = cfg.rooms?.length ? `&rooms=${encodeURIComponent(cfg.rooms.join(','))}` : '';
  const ws = new WebSocket(`${cfg.urls[i % cfg.urls.length]}/?uuid=${id}&userid=${id}${rooms}`, { perMessageDeflate: false });
  sockets[local] = ws;
  return new Promise((resolve, reject) => {
    let ready = false;
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (!ready) {
        ready = true;
        if (message.ok) resolve();
        else reject(new Error(`unexpected first message ${data}`));
        return;
      }
      if (tracker.onPush(local, message) && cfg.ack) {
        ws.send(`{"ack":${message.id}}`);
        tracker.onAck(message.id);
      }
    });
    ws.on('error', (error) => {
      if (!ready) reject(error);
    });
    ws.on('close', () => {
      if (!ready) reject(new Error('closed before ok'));
      else if (!closing) disconnects.close = (disconnects.close ?? 0) + 1;
    });
  });
}

function closeAll() {
  closing = true;
  for (const ws of sockets) ws?.terminate();
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
    snapshot: () => ({ ...tracker.snapshot(), disconnects }),
    finish: (args) => ({ ...tracker.finish(args), disconnects }),
    close() {
      closeAll();
      return {};
    },
  },
  {},
  async () => closeAll(),
);
