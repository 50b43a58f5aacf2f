import type { Logger } from '@herald/log';
import type { Envelope } from '@herald/wire';
import { HISTORY_LENGTH, isCluster, type MessageReport, type RedisClient } from '@herald/store';
import { RecentSet } from './recent-set';
import type { HeraldNamespace, HeraldServer } from './socket-data';

export interface SubscriberCatchUpOptions {
  /**
   * Taken off the time the subscriber was lost: logic stamps `sendDate` with its own clock, which
   * may run ahead of this connector's.
   * @default 2000
   */
  readonly marginMs?: number;
  /**
   * Most message ids remembered as delivered by this server (oldest forgotten first); a catch-up
   * skips them, and a live copy of a message the catch-up already delivered is dropped.
   * @default 10000
   */
  readonly memory?: number;
  /**
   * History entries read per round trip while looking for the messages of the gap.
   * @default 100
   */
  readonly pageSize?: number;
}

export interface CatchUpSources {
  /** A page of a namespace's history, newest first, as reports (MessageStore.history). */
  readonly history: (namespace: string, page: number, size: number) => Promise<MessageReport[]>;
  /** The envelope logic published for a stored message; undefined: it was never published. */
  readonly envelope: (report: MessageReport) => Envelope | undefined;
  /** The normal delivery path (delivery.ts) to this server's sockets; returns the sockets reached. */
  readonly deliver: (nsp: HeraldNamespace, envelope: Envelope) => number;
}

/**
 * Redis pub/sub keeps nothing: a push published while a path server's adapter subscriber is
 * disconnected (a killed connection, a Redis restart) never reaches that server's sockets. When the
 * subscriber is back ('ready' after a 'close'; ioredis has re-subscribed by then), this re-delivers,
 * oldest first and through the normal delivery path, every message of the namespaces with sockets
 * here whose `sendDate` is at or after the time the subscriber was lost (minus a margin), read from
 * the namespace's history. Ids this server already delivered are skipped, and a live copy of an id
 * the catch-up delivered is dropped, so a message arrives once here (docs/reliability.md).
 *
 * The memory is per server, not the connector's ack memory: two path servers may hold sockets of one
 * namespace and each must deliver its own copy. The live path pays one lookup and insert per push
 * (RecentSet: O(1), unlike evicting a Set's first entry).
 */
export class SubscriberCatchUp {
  private readonly seen: RecentSet;
  private readonly marginMs: number;
  private readonly pageSize: number;
  private lostAt: number | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly server: HeraldServer,
    private readonly sub: RedisClient,
    private readonly sources: CatchUpSources,
    private readonly logger: Logger,
    options: SubscriberCatchUpOptions = {},
  ) {
    this.marginMs = options.marginMs ?? 2000;
    this.seen = new RecentSet(options.memory ?? 10_000);
    this.pageSize = options.pageSize ?? 100;
    let subscribed = sub.status === 'ready';
    const lost = (): void => {
      // Only a subscriber that was ready can miss anything (a Redis that is not up yet at start is
      // no gap); the first loss of a gap counts: retries that fail again do not move it forward.
      if (subscribed) this.lostAt ??= Date.now() - this.marginMs;
    };
    sub.on('close', lost);
    sub.on('end', lost);
    // The first 'ready' has no gap (lostAt unset) and does nothing.
    sub.on('ready', () => {
      subscribed = true;
      this.schedule(0);
    });
  }

  /** Delivers an envelope unless this server already did; the sockets reached, 0 for a repeat. */
  deliver(nsp: HeraldNamespace, envelope: Envelope): number {
    const key = `${nsp.name}\n${envelope.message.id}`;
    if (!this.seen.add(key)) return 0;
    return this.sources.deliver(nsp, envelope);
  }

  /** Stops a pending retry (connector shutdown). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.lostAt = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.lostAt === undefined || this.stopped) return;
    clearTimeout(this.retry);
    // After the 'ready' handlers: ioredis sends its re-subscriptions right after emitting 'ready'.
    this.retry = setTimeout(() => void this.run(), delayMs);
    this.retry.unref();
  }

  private async run(): Promise<void> {
    const since = this.lostAt;
    if (since === undefined || this.sub.status !== 'ready') return;
    this.lostAt = undefined;
    try {
      // The re-subscription is on the wire before this PING; its answer means it took effect, so
      // anything published from now on arrives live, and anything before is in the history.
      if (!isCluster(this.sub)) await this.sub.ping();
      const namespaces = [...this.server._nsps.values()].filter((nsp) => nsp.name !== '/' && nsp.sockets.size > 0);
      let redelivered = 0;
      for (const nsp of namespaces) redelivered += await this.catchUp(nsp, since);
      this.logger.info({ namespaces: namespaces.length, redelivered, since }, 'adapter subscriber back; re-delivered what was published while it was away');
    } catch (error) {
      if (this.stopped) return; // the connector is closing its connections
      // Lost again, or Redis refused a read: the gap is still open; the next 'ready' (or this
      // retry, when the subscriber stayed up) tries again from the same point.
      this.lostAt = Math.min(since, this.lostAt ?? since);
      this.logger.warn({ err: (error as Error).message, since }, 'catch-up after the adapter subscriber came back failed; retrying');
      this.schedule(1000);
    }
  }

  /** Re-delivers one namespace's messages sent at or after `since`; the count re-delivered. */
  private async catchUp(nsp: HeraldNamespace, since: number): Promise<number> {
    const gap: MessageReport[] = [];
    for (let page = 1; (page - 1) * this.pageSize < HISTORY_LENGTH; page++) {
      const reports = await this.sources.history(nsp.name, page, this.pageSize);
      const recent = reports.filter((report) => report.sendDate >= since);
      gap.push(...recent);
      // Newest first: an older message ends the gap; an empty page is the end of the list (or of
      // the messages that have not expired, which are older still).
      if (recent.length < reports.length || reports.length === 0) break;
    }
    let redelivered = 0;
    for (const report of gap.reverse()) {
      const envelope = this.sources.envelope(report);
      if (!envelope || this.seen.has(`${nsp.name}\n${report.id}`)) continue;
      this.deliver(nsp, envelope);
      redelivered++;
    }
    return redelivered;
  }
}
