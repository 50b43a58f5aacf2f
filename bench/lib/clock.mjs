/**
 * One clock for every bench process. `process.hrtime` is CLOCK_MONOTONIC on Linux: the same clock in
 * every process of the machine, unaffected by NTP steps, so an intended send time stamped by the
 * push driver can be subtracted from a receive time taken in a client process.
 */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves at the monotonic time `atUs` (ms resolution of timers, then a short spin-free wait). */
export async function sleepUntil(atUs) {
  for (;;) {
    const left = atUs - nowUs();
    if (left <= 0) return;
    await sleep(Math.max(0, Math.floor(left / 1000)) || 0);
  }
}
