import { sleep } from './clock.mjs';
import { cpuTable, table } from './report.mjs';

/*
 * The rising-rate shape of the protocol scenarios (S9 webservice, S11 chat): steps from `p.start`,
 * × `p.factor` each, up to `p.max`, until one does not keep up; then a `p.halfMs` phase at half the
 * last rate that kept up, where latency and CPU per message are read.
 */

/**
 * Runs the steps. `step(rate, durationMs, stepId)` runs one and returns at least `{keptUp, lost}`;
 * `describe(step)` is its log line.
 */
export async function risingThenHalf(ctx, p, step, describe) {
  const steps = [];
  let stepId = 0;
  let sustained;
  for (let rate = p.start; rate <= p.max; rate = Math.ceil(rate * p.factor)) {
    const s = await step(rate, p.stepMs, ++stepId);
    steps.push(s);
    ctx.log(`  ${rate}/s: ${describe(s)}${s.keptUp ? '' : ' — fell behind'}`);
    if (!s.keptUp) break;
    sustained = rate;
    await sleep(500);
  }
  await sleep(1000);
  const halfRate = Math.max(1, Math.round((sustained ?? p.start) / 2));
  const half = await step(halfRate, p.halfMs, ++stepId);
  ctx.log(`  half rate ${halfRate}/s: ${describe(half)}`);
  return { steps, sustained, saturated: steps.some((s) => !s.keptUp), halfRate, half, lost: [...steps, half].reduce((a, s) => a + Math.max(0, s.lost), 0) };
}

/**
 * The report of such a run: the comparison table `main`, the CPU per process of the half-rate
 * phase, and each system's steps (`columns` headers, `row(step)` cells; `keptUp` says what kept up
 * means). Fails when any system lost a message.
 */
export function risingReport(results, keys, p, main, { keptUp, columns, row }) {
  const stepTables = keys.map((k) => {
    const r = results[k];
    return [`${r.name}, rising steps (${p.stepMs / 1000} s each; "kept up" = ${keptUp}):`, '', table(columns, r.steps.map(row))].join('\n');
  });
  const lost = keys.some((k) => results[k].lost > 0);
  const body = [main, '', 'CPU per process in the half-rate phase:', '', cpuTable(results, keys, (r) => r.half.cpu), '', ...stepTables.flatMap((t) => [t, ''])].join('\n');
  return { body, failed: lost };
}
