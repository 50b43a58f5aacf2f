import { randomBytes } from 'node:crypto';
import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import type { Platform } from '@herald/wire';
import { TIMELINE_MAX_ENTRIES, packAck, packDelivery, reportBatchCall, type InboxStore, type Keys, type Scripts } from '@herald/store';
import { Fifo } from './fifo';

/** Tuning of the report batcher; defaults suit one connector with tens of thousands of sockets. */
export interface ReportBatcherOptions {
  /**
   * How long updates wait to be grouped. Acks show in the report within this delay plus one Redis
   * round trip (the issue asks for under a second).
   * @default 20
   */
  readonly intervalMs?: number;
  /** Updates per script call. @default 500 */
  readonly maxBatch?: number;
  /**
   * Script calls in flight at once. Writes overlap (ioredis pipelines them on one connection), so
   * a connector whose event loop is slow to come back to a reply still writes at Redis' pace.
   * @default 16
   */
  readonly maxInFlight?: number;
  /**
   * Updates waiting (queued or in flight) above which the connector stops reading from its
   * sockets (`pressure(true)`) until they are written down to 80 % of it. Nothing is ever dropped:
   * the bound on memory is paid by slowing intake (docs/reliability.md, "Above capacity").
   * @default 500000
   */
  readonly maxPending?: number;
  /** Backoff before writing again after a failed write (Redis unreachable). @default 1000 */
  readonly retryMs?: number;
  /** At most one summary line per this interval while behind or failing. @default 10000 */
  readonly logEveryMs?: number;
  /** Told when intake must pause (`true`) and may resume (`false`). @default no-op */
  readonly pressure?: (high: boolean) => void;
  /** This connector's id, named by its timeline entries. @default 'connector' */
  readonly connectorId?: string;
  /**
   * Most entries of one message's timeline (`HERALD_TIMELINE_MAX_ENTRIES`); 0 writes none.
   * @default TIMELINE_MAX_ENTRIES
   */
  readonly timelineMaxEntries?: number;
}

/** One message's updates in a batch (packed: packDelivery, packAck). */
interface MessageUpdates {
  readonly deliveries: string[];
  readonly acks: string[];
}

/** Updates of one namespace, written by one script call (all keys share its hash tag). */
interface Batch {
  readonly namespace: string;
  /** Unique to the batch, the same for every attempt to write it (its mark in Redis). */
  readonly token: string;
  /** Per message id, in the order first seen. */
  readonly messages: Map<number, MessageUpdates>;
  /** Updates in the batch (deliveries and acks). */
  size: number;
  /** When its first update was queued (`performance.now()`), for the report-apply lag metric. */
  readonly since: number;
}

/** `down`: the last write failed (Redis unreachable); `behind`: writes succeed but updates wait. */
export type ReportPathState = 'ok' | 'behind' | 'down';

/**
 * The ack path: acks and online delivery counts leave the socket handler at once and reach the
 * report in batches, one `report-batch` script call per namespace and batch (all keys of a
 * namespace's reports share its hash tag). The script ignores unknown ids and applies each batch
 * once (its mark), so re-sending a batch after a failure, or ioredis resending it after a lost
 * reply, is harmless.
 *
 * No update is dropped: a failed batch is written again (after `retryMs`) until Redis takes it,
 * and when more than `maxPending` wait the connector stops reading its sockets instead of
 * forgetting counts. "Redis is down" (writes fail) and "I am behind" (writes succeed, updates
 * wait) are told apart and logged as one summary line per `logEveryMs`, never one per update.
 */
export class ReportBatcher {
  /** Full batches, oldest first, then batches put back after a failed write (written first). */
  private readonly ready = new Fifo<Batch>();
  private readonly retry: Batch[] = [];
  /** The batch being filled, per namespace. */
  private open = new Map<string, Batch>();
  /** Acked ids per client, to take out of its inbox (another slot than the report). */
  private inboxAcks = new Map<string, number[]>();
  /** Updates not yet written (open, ready, put back or in flight). */
  private pendingCount = 0;
  private inFlight = 0;
  /** Batches opened so far, and what makes their tokens unique to this batcher. */
  private batches = 0;
  private readonly tokenPrefix = `${randomBytes(6).toString('hex')}:`;
  private readonly idle = new Set<() => void>();
  private readonly inboxWrites = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private state: ReportPathState = 'ok';
  private paused = false;
  private closed = false;
  /** For the summary line: since the last one. */
  private written = 0;
  private failures = 0;
  private lastError = '';
  private lastLogAt = 0;
  /** Inbox removals that failed since their last warning, and when that was. */
  private inboxFailures = 0;
  private lastInboxLogAt = -Infinity;
  /** Intake pauses since the last summary, and when a pause or resume was last logged. */
  private pauses = 0;
  private lastValveLogAt = { pause: -Infinity, resume: -Infinity };
  private readonly intervalMs: number;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly maxPending: number;
  private readonly retryMs: number;
  private readonly logEveryMs: number;
  private readonly pressure: (high: boolean) => void;
  private readonly connectorId: string;
  private readonly timelineMax: number;

  constructor(
    private readonly scripts: Scripts,
    private readonly keys: Keys,
    private readonly inbox: InboxStore,
    private readonly logger: Logger,
    options: ReportBatcherOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 20;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 16;
    this.maxPending = options.maxPending ?? 500_000;
    this.retryMs = options.retryMs ?? 1000;
    this.logEveryMs = options.logEveryMs ?? 10_000;
    this.pressure = options.pressure ?? (() => undefined);
    this.connectorId = options.connectorId ?? 'connector';
    this.timelineMax = options.timelineMaxEntries ?? TIMELINE_MAX_ENTRIES;
  }

  /** Updates not yet written. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Whether the last write failed (`down`), updates wait above one round of batches (`behind`). */
  get status(): ReportPathState {
    return this.state;
  }

  /** A client acknowledged message `id`; `inbox`: take it out of the client's inbox too. */
  ack(namespace: string, id: number, platform: Platform, clientId: string, inbox = true): void {
    this.updates(namespace, id).acks.push(packAck(platform, Date.now(), clientId));
    this.added(namespace);
    metrics.acked(namespace, id);
    if (!inbox) return;
    let ids = this.inboxAcks.get(clientId);
    if (!ids) this.inboxAcks.set(clientId, (ids = []));
    ids.push(id);
  }

  /** This connector wrote message `id` to `count` sockets. */
  delivered(namespace: string, id: number, count: number): void {
    if (count <= 0) return;
    this.updates(namespace, id).deliveries.push(packDelivery(Date.now(), count));
    this.added(namespace);
  }

  /** The open batch's updates of message `id` of `namespace`. */
  private updates(namespace: string, id: number): MessageUpdates {
    let batch = this.open.get(namespace);
    if (!batch) this.open.set(namespace, (batch = { namespace, token: `${this.tokenPrefix}${++this.batches}`, messages: new Map(), size: 0, since: performance.now() }));
    let updates = batch.messages.get(id);
    if (!updates) batch.messages.set(id, (updates = { deliveries: [], acks: [] }));
    return updates;
  }

  /** One update joined the open batch of `namespace`: full batches leave, intake may pause. */
  private added(namespace: string): void {
    const batch = this.open.get(namespace)!;
    batch.size++;
    this.pendingCount++;
    if (batch.size >= this.maxBatch) {
      this.open.delete(namespace);
      this.ready.push(batch);
      this.pump();
    }
    if (!this.paused && this.pendingCount >= this.maxPending) {
      this.paused = true;
      this.pauses++;
      this.pressure(true);
      this.valveLine('pause');
    }
    this.timer ??= setTimeout(() => this.tick(), this.intervalMs);
  }

  /** The grouping delay is over: open batches become ready, inbox removals leave. */
  private tick(): void {
    this.timer = undefined;
    for (const batch of this.open.values()) this.ready.push(batch);
    this.open = new Map();
    if (this.inboxAcks.size > 0) {
      const acks = this.inboxAcks;
      this.inboxAcks = new Map();
      const work = this.clearInboxes(acks);
      this.inboxWrites.add(work);
      void work.finally(() => this.inboxWrites.delete(work));
    }
    this.pump();
  }

  /** Starts writes while batches wait and slots are free (one probe at a time while Redis is down). */
  private pump(): void {
    if (this.retryTimer) return;
    const slots = this.state === 'down' ? 1 : this.maxInFlight;
    while (this.inFlight < slots) {
      const batch = this.retry.pop() ?? this.ready.shift();
      if (!batch) break;
      this.inFlight++;
      void this.write(batch);
    }
    if (this.inFlight === 0 && this.pendingCount === 0) for (const resolve of [...this.idle]) resolve();
  }

  private async write(batch: Batch): Promise<void> {
    const { namespace, size } = batch;
    const { keys, args } = reportBatchCall(this.keys, namespace, batch.token, batch.messages, this.timelineMax, this.connectorId);
    try {
      await this.scripts.reportBatch(keys, args);
      metrics.reportApplied(size, batch.since);
      this.inFlight--;
      this.pendingCount -= size;
      this.written += size;
      this.settle();
    } catch (error) {
      this.inFlight--;
      this.failures++;
      this.lastError = (error as Error).message;
      // Kept, and written again first once Redis answers (the script is idempotent).
      this.retry.push(batch);
      if (this.state !== 'down') {
        this.state = 'down';
        this.summary(true);
      } else this.summary(false);
      if (!this.retryTimer && !this.closed) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, this.retryMs);
      }
    }
    this.pump();
  }

  /** After a successful write: the state, intake and the summary line follow the backlog. */
  private settle(): void {
    const wasDown = this.state === 'down';
    const behind = this.pendingCount > this.maxBatch * this.maxInFlight;
    if (wasDown || (behind && this.state === 'ok')) {
      this.state = behind ? 'behind' : 'ok';
      this.summary(true, wasDown ? 'report writes succeed again' : undefined);
    } else if (!behind && this.state === 'behind') {
      this.state = 'ok';
      this.summary(true, 'report updates caught up');
    } else if (this.state === 'behind') this.summary(false);
    if (this.paused && this.pendingCount <= 0.8 * this.maxPending) {
      this.paused = false;
      this.pressure(false);
      this.valveLine('resume');
    }
  }

  /** Pausing and resuming intake are logged once per `logEveryMs` each; the summary counts them. */
  private valveLine(kind: 'pause' | 'resume'): void {
    const now = Date.now();
    if (now - this.lastValveLogAt[kind] < this.logEveryMs) return;
    this.lastValveLogAt[kind] = now;
    this.summary(true, kind === 'resume' ? 'report backlog below its bound; reading sockets again' : undefined);
  }

  /** One line per `logEveryMs` at most (or now when the state changed): what waits and why. */
  private summary(force: boolean, msg?: string): void {
    const now = Date.now();
    if (!force && now - this.lastLogAt < this.logEveryMs) return;
    const seconds = Math.max(0.001, (now - (this.lastLogAt || now)) / 1000);
    this.lastLogAt = now;
    const fields = {
      state: this.state,
      pending: this.pendingCount,
      inFlight: this.inFlight,
      intakePaused: this.paused,
      intakePauses: this.pauses,
      writtenPerS: Math.round(this.written / seconds),
      ...(this.failures > 0 ? { failedWrites: this.failures, err: this.lastError } : {}),
    };
    this.written = 0;
    this.failures = 0;
    this.pauses = 0;
    if (msg) this.logger.info(fields, msg);
    else if (this.state === 'down') this.logger.warn(fields, 'report writes failing: Redis unreachable; updates kept and retried');
    else if (this.paused) this.logger.warn(fields, 'report path at its bound: intake paused until Redis takes the backlog');
    else if (this.state === 'behind') this.logger.warn(fields, 'report path behind: updates wait for Redis; none dropped');
  }

  /**
   * Acked messages leave the client's inbox, in one pipeline per flush. A failure only means the
   * message is offered once more on the next connect (delivery is at least once), so it is logged
   * (rate-limited), not retried.
   */
  private async clearInboxes(acks: Map<string, number[]>): Promise<void> {
    try {
      await this.inbox.removeMany(acks);
    } catch (error) {
      // Once per `logEveryMs` at most: while Redis is away this fails at every flush.
      this.inboxFailures++;
      const now = Date.now();
      if (now - this.lastInboxLogAt < this.logEveryMs) return;
      this.lastInboxLogAt = now;
      this.logger.warn({ err: (error as Error).message, clients: acks.size, failedFlushes: this.inboxFailures }, 'could not clear inbox entries');
      this.inboxFailures = 0;
    }
  }

  /** Writes everything pending; resolves once nothing waits (retrying while Redis is away). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.tick();
    }
    const inboxes = Promise.all([...this.inboxWrites]).then(() => undefined);
    if (this.pendingCount === 0 && this.inFlight === 0) return inboxes;
    const reports = new Promise<void>((resolve) => {
      const done = () => {
        this.idle.delete(done);
        resolve();
      };
      this.idle.add(done);
      this.pump();
    });
    return Promise.all([reports, inboxes]).then(() => undefined);
  }

  /** Writes what is pending (while Redis answers within `timeoutMs`), then stops its timers. */
  async close(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.closed = true;
    if (this.pendingCount > 0) this.logger.error({ pending: this.pendingCount }, 'report updates not written at shutdown: Redis did not take them in time');
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
  }
}
