/**
 * Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` with the
 * last value seen. For state that has no event to wait on (a report counter in Redis).
 */
export async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 5000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
