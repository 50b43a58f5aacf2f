/*
 * Load generator: the third-party server. Sends REST pushes on an absolute timeline: push n of a
 * run is due at t0 + (n - startN) / rate, whatever happened to the pushes before it, and carries
 * that intended time in pushData.t. REST latency is measured from the intended time too, so a slow
 * answer delays nothing and hides nothing (no coordinated omission); how late the driver itself
 * got each push out is recorded apart ("lateness") to show when the driver is the bottleneck.
 *
 * undici Pools (one per target origin, `connections` sockets each, optional pipelining) so that
 * requests never wait on each other in the client beyond what the pool size imposes. With K
 * drivers, driver k sends the n with n % K === k: one shared timeline.
 *
 * With `batch` > 0 (Herald only), pushes go through `<path>/batch` in arrays of `batch` pushes: a
 * push waits for its batch to fill (counted in its latency, from its intended time) and each push of
 * the answer is counted on its own.
 */
import { Pool } from 'undici';
import { nowUs } from '../lib/clock.mjs';
import { encode, newHistogram } from '../lib/hist.mjs';
import { serve } from '../lib/ipc.mjs';

let cfg;
let pools = [];
let pad = '';

serve(
  {
    init(config) {
      cfg = config;
      pools = cfg.origins.map(
        (origin) =>
          new Pool(origin, { connections: cfg.connections ?? 32, pipelining: cfg.pipelining ?? 1, headersTimeout: 120_000, bodyTimeout: 120_000, keepAliveTimeout: 60_000 }),
      );
      pad = 'x'.repeat(cfg.padBytes ?? 0);
      return {};
    },

    /** Sends pushes startN … startN+total-1 (this driver's share) at `rate`/s from t0 (µs). */
    run({ startN, total, rate, t0 }) {
      const rest = newHistogram();
      const lateness = newHistogram();
      const failed = [];
      const statuses = {};
      const examples = [];
      let mismatches = 0;
      let ok = 0;
      let sent = 0;
      let answered = 0;
      let lastAnswerAt = 0;
      const mine = [];
      for (let n = startN; n < startN + total; n++) if (n % cfg.driverCount === cfg.driverIndex) mine.push(n);
      const intervalUs = 1e6 / rate;
      const due = (n) => t0 + Math.round((n - startN) * intervalUs);
      const headers = { 'content-type': 'application/json', ...(cfg.authorization ? { authorization: cfg.authorization } : {}) };

      return new Promise((resolve) => {
        let next = 0;
        const maybeDone = () => {
          if (answered === mine.length && next === mine.length) {
            resolve({
              sent,
              ok,
              failed,
              statuses,
              examples,
              mismatches,
              lastAnswerAt,
              rest: encode(rest),
              lateness: encode(lateness),
            });
          }
        };
        const fail = (n, key, detail) => {
          failed.push(n);
          statuses[key] = (statuses[key] ?? 0) + 1;
          if (examples.length < 5) examples.push({ n, key, detail: String(detail).slice(0, 200) });
        };
        const pushOf = (n, intended) => {
          const room = cfg.mode === 'room' ? cfg.room : `user_${cfg.uuidPrefix}${n % cfg.clientsTotal}`;
          return { room, pushData: { n, t: intended, ...(pad ? { p: pad } : {}) } };
        };
        const accepted = (n, answer) => {
          ok++;
          if (cfg.expectAckCount !== undefined && answer.expectAckCount !== cfg.expectAckCount) {
            mismatches++;
            if (examples.length < 5) examples.push({ n, key: 'expectAckCount', detail: JSON.stringify(answer) });
          }
        };
        let waiting = [];
        const sendBatch = (items) => {
          sent += items.length;
          pools[items[0].n % pools.length]
            .request({ method: 'POST', path: `${cfg.path}/batch`, headers, body: JSON.stringify(items.map((i) => pushOf(i.n, i.intended))) })
            .then(async ({ statusCode, body: responseBody }) => {
              const text = await responseBody.text();
              const at = nowUs();
              lastAnswerAt = Math.max(lastAnswerAt, at);
              for (const item of items) rest.recordValue(Math.max(1, at - item.intended));
              if (statusCode !== 200) return items.forEach((item) => fail(item.n, String(statusCode), text));
              JSON.parse(text).forEach((answer, i) => (answer.id !== undefined ? accepted(items[i].n, answer) : fail(items[i].n, answer.code, answer.msg)));
            })
            .catch((error) => items.forEach((item) => fail(item.n, error.code ?? error.name ?? 'error', error.message)))
            .finally(() => {
              answered += items.length;
              maybeDone();
            });
        };
        const fire = (n, intended) => {
          if (cfg.batch > 0) {
            waiting.push({ n, intended });
            if (waiting.length >= cfg.batch || next === mine.length - 1) {
              sendBatch(waiting);
              waiting = [];
            }
            return;
          }
          const body = JSON.stringify(pushOf(n, intended));
          sent++;
          pools[n % pools.length]
            .request({ method: 'POST', path: cfg.path, headers, body })
            .then(async ({ statusCode, body: responseBody }) => {
              const text = await responseBody.text();
              const at = nowUs();
              rest.recordValue(Math.max(1, at - intended));
              lastAnswerAt = Math.max(lastAnswerAt, at);
              if (statusCode !== 200) return fail(n, String(statusCode), text);
              accepted(n, JSON.parse(text));
            })
            .catch((error) => fail(n, error.code ?? error.name ?? 'error', error.message))
            .finally(() => {
              answered++;
              maybeDone();
            });
        };
        const tick = () => {
          const now = nowUs();
          while (next < mine.length && due(mine[next]) <= now) {
            const intended = due(mine[next]);
            lateness.recordValue(Math.max(1, now - intended));
            fire(mine[next], intended);
            next++;
          }
          if (next < mine.length) {
            // Timers have 1 ms granularity: pushes due within the same millisecond leave together,
            // up to ~1 ms late, and that lateness is part of their measured latency. Spinning on
            // setImmediate instead would make the driver look busy (client-bound) at any rate.
            const waitMs = (due(mine[next]) - nowUs()) / 1000;
            setTimeout(tick, Math.max(1, Math.floor(waitMs)));
          } else maybeDone();
        };
        const startIn = Math.max(0, (t0 - nowUs()) / 1000);
        setTimeout(tick, Math.floor(startIn));
      });
    },
  },
  {},
  async () => {
    await Promise.all(pools.map((pool) => pool.destroy()));
  },
);
