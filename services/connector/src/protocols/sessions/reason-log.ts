import type { Logger } from '@herald/log';

/**
 * Logs a recurring problem once per reason and period, with how many were not logged since: a
 * publisher sending garbage a thousand times a second must not flood the log (the counter in
 * /metrics has every one).
 */
export class ReasonLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly periodMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(reason: string, fields: Record<string, unknown>, message: string): void {
    const seen = this.last.get(reason);
    const at = this.now();
    if (seen && at - seen.at < this.periodMs) {
      seen.suppressed++;
      return;
    }
    this.last.set(reason, { at, suppressed: 0 });
    this.logger.warn({ ...fields, reason, ...(seen?.suppressed ? { suppressed: seen.suppressed } : {}) }, message);
  }
}
