/*
 * S6: when does an ack show in the delivery report? Herald's message ids are 1, 2, 3, … per
 * namespace, so the prober follows the namespace's id counter and, every `intervalMs`, reads
 * `ackCount` of every `sampleEvery`-th message that has not shown its ack yet (one pipelined HGET
 * per outstanding id, straight from the report hash that GET /api/auth/report/push reads). The
 * first time it is ≥ 1 is the "applied" time; lag = applied − ack sent (sent times come from the
 * client generators). Resolution: `intervalMs`.
 */
import { Redis } from 'ioredis';
import { nowUs, sleep } from '../lib/clock.mjs';
import { serve } from '../lib/ipc.mjs';

let redis;
let running = false;
let loop;
const applied = [];
const outstanding = new Set();
let lastSeen = 0;
let cfg;

async function poll() {
  const seq = Number((await redis.get(cfg.seqKey)) ?? 0);
  for (let id = lastSeen + 1; id <= seq; id++) if (id % cfg.sampleEvery === 0) outstanding.add(id);
  lastSeen = Math.max(lastSeen, seq);
  if (outstanding.size === 0) return;
  const ids = [...outstanding];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(`${cfg.messagePrefix}${id}`, 'ackCount');
  const results = await pipeline.exec();
  const at = nowUs();
  ids.forEach((id, i) => {
    if (Number(results[i][1] ?? 0) >= 1) {
      outstanding.delete(id);
      applied.push([id, at]);
    }
  });
}

serve(
  {
    start(config) {
      cfg = config;
      redis = new Redis(cfg.redisUrl);
      running = true;
      loop = (async () => {
        while (running) {
          const started = Date.now();
          await poll();
          await sleep(Math.max(0, cfg.intervalMs - (Date.now() - started)));
        }
      })();
      return {};
    },
    /** Keeps polling until nothing is outstanding or `graceMs` passed, then reports. */
    async stop({ graceMs = 5000 }) {
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline) {
        await sleep(cfg.intervalMs);
        if (outstanding.size === 0 && lastSeen > 0) break;
      }
      running = false;
      await loop;
      await redis.quit();
      return { applied, outstanding: [...outstanding], lastSeen };
    },
  },
  {},
  async () => {
    running = false;
    redis?.disconnect();
  },
);
