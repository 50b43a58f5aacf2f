/*
 * The APNs mock of @herald/test-support (Apple's HTTP/2 provider API over TLS, ES256 provider
 * tokens checked on every request) in its own process, so that its CPU is not charged to Herald or
 * to B-apns. It keeps counts instead of every request: the mock's own request log is emptied as it
 * is read. argv: <latencyMs> (the simulated round trip).
 */
import { createRequire } from 'node:module';
import { serve } from '../lib/ipc.mjs';

const require = createRequire(import.meta.url);
const { startApnsMock } = require('@herald/test-support');

const latencyMs = Number(process.argv[2] ?? 0);
const mock = await startApnsMock({ latencyMs });

let counts;
const clear = () => {
  counts = { requests: 0, tokens: new Set(), statuses: {}, firstAt: undefined, lastAt: undefined };
};
clear();

/** Folds the mock's log into the counts and empties it (its requests array would grow without end). */
function scan() {
  for (const r of mock.requests) {
    counts.requests++;
    counts.tokens.add(r.token);
    const key = r.status === undefined ? r.outcome : r.reason ? `${r.status} ${r.reason}` : String(r.status);
    counts.statuses[key] = (counts.statuses[key] ?? 0) + 1;
    counts.firstAt ??= r.at;
    counts.lastAt = r.at;
  }
  mock.reset();
}
const timer = setInterval(scan, 200);

serve(
  {
    stats: () => {
      scan();
      return { requests: counts.requests, distinct: counts.tokens.size, statuses: counts.statuses, firstAt: counts.firstAt, lastAt: counts.lastAt };
    },
    clear: () => {
      scan();
      clear();
      return {};
    },
  },
  { port: mock.port, caFile: mock.caFile, teamId: mock.teamId, providerKey: { key: mock.providerKey.key, keyId: mock.providerKey.keyId, teamId: mock.providerKey.teamId } },
  async () => {
    clearInterval(timer);
    await mock.close();
  },
);
