import type { Logger } from '@herald/log';
import type { Platform } from '@herald/protocol';
import { TIMELINE_MAX_ENTRIES, timelineUpdate, type InboxStore, type Keys, type Scripts, type StoredTimelineEntry } from '@herald/store';

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
   * Updates kept while Redis is unreachable; beyond this the oldest are dropped and logged, so that
   * an outage cannot exhaust the connector's memory.
   * @default 200000
   */
  readonly maxPending?: number;
  /** This connector's id, named by its timeline entries. @default 'connector' */
  readonly connectorId?: string;
  /**
   * Most entries of one message's timeline (`HERALD_TIMELINE_MAX_ENTRIES`); 0 writes none.
   * @default TIMELINE_MAX_ENTRIES
   */
  readonly timelineMaxEntries?: number;
}

interface Update {
  readonly id: number;
  readonly kind: 'a' | 'o';
  readonly value: string | number;
  readonly platform: Platform | '';
  /** The message's timeline entry for this update, written in the same script call. */
  readonly timeline?: StoredTimelineEntry;
}

/**
 * The ack path: acks and online delivery counts leave the socket handler at once and reach the
 * report in batches, one `report-apply` script call per namespace and batch (all keys of a
 * namespace's reports share its hash tag). The script ignores unknown ids and counts each client's
 * ack once, so re-sending a batch after a failure is harmless.
 */
export class ReportBatcher {
  private pending = new Map<string, Update[]>();
  /** Acked ids per client, to take out of its inbox (another slot than the report). */
  private inboxAcks = new Map<string, number[]>();
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly intervalMs: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
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
    this.maxPending = options.maxPending ?? 200_000;
    this.connectorId = options.connectorId ?? 'connector';
    this.timelineMax = options.timelineMaxEntries ?? TIMELINE_MAX_ENTRIES;
  }

  /** A client acknowledged message `id`. */
  ack(namespace: string, id: number, platform: Platform, clientId: string): void {
    const timeline = this.timelineMax > 0 ? { at: Date.now(), step: 'acked' as const, clientId, platform } : undefined;
    this.add(namespace, { id, kind: 'a', value: clientId, platform, ...(timeline && { timeline }) });
    let ids = this.inboxAcks.get(clientId);
    if (!ids) this.inboxAcks.set(clientId, (ids = []));
    ids.push(id);
  }

  /** This connector wrote message `id` to `count` sockets. */
  delivered(namespace: string, id: number, count: number): void {
    if (count <= 0) return;
    const timeline = this.timelineMax > 0 ? { at: Date.now(), step: 'delivered' as const, connector: this.connectorId, sockets: count } : undefined;
    this.add(namespace, { id, kind: 'o', value: count, platform: '', ...(timeline && { timeline }) });
  }

  private add(namespace: string, update: Update): void {
    let list = this.pending.get(namespace);
    if (!list) this.pending.set(namespace, (list = []));
    list.push(update);
    this.size++;
    if (this.size > this.maxPending) {
      list.shift();
      this.size--;
      this.logger.error({ namespace }, 'report updates dropped: Redis unreachable for too long');
    }
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** Writes everything pending; resolves when written (or put back after a failure). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.size === 0) return Promise.resolve();
    const batches = this.pending;
    const inboxAcks = this.inboxAcks;
    this.pending = new Map();
    this.inboxAcks = new Map();
    this.size = 0;
    this.flushing = Promise.all([this.write(batches), this.clearInboxes(inboxAcks)]).then(
      () => undefined,
      () => undefined,
    ).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(batches: Map<string, Update[]>): Promise<void> {
    for (const [namespace, updates] of batches) {
      for (let start = 0; start < updates.length; start += this.maxBatch) {
        const chunk = updates.slice(start, start + this.maxBatch);
        const keys: string[] = [];
        const args: (string | number)[] = [];
        for (const u of chunk) {
          const message = this.keys.message(namespace, u.id);
          keys.push(message, u.kind === 'a' ? this.keys.acks(namespace, u.id, u.platform as Platform) : message);
          args.push(u.kind, u.value, u.platform);
          if (u.timeline) {
            const update = timelineUpdate(this.keys, namespace, u.id, u.timeline, this.timelineMax);
            keys.push(...update.keys);
            args.push(...update.args);
          }
        }
        try {
          await this.scripts.reportApply(keys, args);
        } catch (error) {
          this.logger.warn({ err: error, namespace, updates: updates.length - start }, 'report write failed; retrying in 1 s');
          // Back off instead of retrying at the batching pace while Redis is away.
          this.timer ??= setTimeout(() => void this.flush(), 1000);
          for (const u of updates.slice(start)) this.add(namespace, u);
          break;
        }
      }
    }
  }

  /**
   * Acked messages leave the client's inbox. A failure only means the message is offered once more
   * on the next connect (delivery is at least once), so it is logged, not retried.
   */
  private async clearInboxes(acks: Map<string, number[]>): Promise<void> {
    await Promise.all(
      [...acks].map(([clientId, ids]) =>
        this.inbox.remove(clientId, ids).catch((error: unknown) => this.logger.warn({ err: error, clientId }, 'could not clear inbox entries')),
      ),
    );
  }

  /** Stops the timer after writing what is pending. */
  async close(): Promise<void> {
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
