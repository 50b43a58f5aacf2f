/*
 * S3b — S3's single-user pushes through `POST /api/auth/push/batch` against single pushes, Herald
 * only: the same clients, rates and phases as S3, once with one push per request and once with
 * `batch` pushes per request. Compares the highest rate sustained with zero loss and the CPU-µs
 * per push (servers + Redis) at the fixed rate.
 */
import { check, comparisonTable, cpuTable, fmt } from '../lib/report.mjs';
import { measure, params as s3Params, fdNeeds as s3FdNeeds } from './s3-user-push.mjs';

export const id = 's3b';
export const title = 'REST push → single users: batch route against single pushes';
export const systems = ['herald'];

export function params(quick) {
  return { ...s3Params(quick), batch: quick ? 5 : 20, redisRequests: 0 };
}

export const fdNeeds = s3FdNeeds;

export async function run(ctx) {
  const p = ctx.params;
  const results = {};
  results.single = { ...(await measure('herald', { ...p, batch: 0 }, ctx)), name: 'single pushes' };
  results.batch = { ...(await measure('herald', p, ctx)), name: `batches of ${p.batch}` };
  const keys = ['single', 'batch'];
  const fixed = `at ${fmt(p.fixedRate)}/s`;
  const main = comparisonTable(results, keys, [
    { label: 'clients (user rooms) / connectors / logic', get: () => `${p.clients} / ${p.connectors} / ${p.logic}` },
    {
      label: 'sustained pushes/s, zero loss (last step that kept up)',
      get: (r) => r.rising.sustainedRate ?? 0,
      ratio: true,
      goal: (h) => (h === undefined ? '≥ 10 000/s' : `≥ 10 000/s ${check(h >= 10_000)}`),
    },
    { label: 'saturated below --max', get: (r) => (r.rising.saturated ? 'yes' : `no (≥ ${p.max}/s)`) },
    { label: `${fixed}: CPU-µs per push (servers + Redis)`, get: (r) => r.fixed.cpuUsPerPush, ratio: true },
    { label: `${fixed}: REST p50 / p99 (batches wait to fill)`, get: (r) => `${fmt(r.fixed.rest.p50)} / ${fmt(r.fixed.rest.p99)} ms` },
    { label: `${fixed}: push→receive p50 / p99`, get: (r) => `${fmt(r.fixed.latency.p50)} / ${fmt(r.fixed.latency.p99)} ms` },
    { label: `${fixed}: lost (must be 0)`, get: (r) => r.fixed.lost },
    { label: 'missing deliveries, whole run (must be 0)', get: (r) => r.correctness.missing, goal: (h) => (h === undefined ? '0' : `0 ${check(h === 0)}`) },
    { label: 'failed pushes', get: (r) => r.failedPushes },
  ]);
  const missing = keys.some((k) => results[k].correctness.missing > 0);
  const times = (get) => {
    const [a, b] = [get(results.single), get(results.batch)];
    return a > 0 && b !== undefined ? `${fmt(b / a, 2)}×` : '—';
  };
  const ratios = `batch ÷ single: sustained pushes/s ${times((r) => r.rising.sustainedRate ?? 0)}, CPU-µs per push ${times((r) => r.fixed.cpuUsPerPush)}.`;
  const body = [main, '', ratios, '', `CPU per process at ${fmt(p.fixedRate)} pushes/s:`, '', cpuTable(results, keys, (r) => r.fixed.cpu)].join('\n');
  return { body, failed: missing };
}
