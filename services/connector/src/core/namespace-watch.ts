import type { Logger } from '@herald/log';
import type { NamespaceStore, RedisClient } from '@herald/store';
import type { HeraldServer } from './socket-data';

/** Seed rule for the drop delay: `min(5000 + 100 ms × connected sockets, 5 min)`. */
export function seedOfflineDelayBound(connected: number): number {
  return Math.min(5000 + 100 * connected, 300_000);
}

/**
 * Follows namespace changes (published by logic on every save). When a namespace is switched
 * `offline: on` (or deleted), this connector drops its sockets of that namespace after a random
 * delay — spread out so that thousands of clients do not reconnect in the same instant — and new
 * handshakes are refused meanwhile by the gate. Switching it back on before the delay cancels the drop.
 *
 * Notices published while the subscription is down (a Redis restart, a network blip, a killed
 * connection) are lost, so after every reconnect the watch subscribes again and re-reads the
 * settings of every namespace it has sockets of, as if each had been announced.
 */
export class NamespaceWatch {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private started = false;

  constructor(
    private readonly io: HeraldServer,
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly namespaces: NamespaceStore,
    /** Upper bound of the delay; null applies the seed rule. */
    private readonly delayBoundMs: number | null,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, name: string) => {
      if (channel === this.channel) void this.changed(name);
    });
    // 'ready' comes again after each reconnect (ioredis re-subscribes by itself, but the notices
    // sent in between are gone).
    this.subscriber.on('ready', () => {
      if (this.started) void this.resync();
    });
    await this.subscriber.subscribe(this.channel);
    this.started = true;
  }

  /** After a reconnect: subscribed again first, so no change can fall between the read and the notice. */
  private async resync(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
    } catch (error) {
      // The connection went away again: its next 'ready' retries.
      this.logger.warn({ err: (error as Error).message }, 'could not subscribe to namespace changes again');
      return;
    }
    const names = [...this.io._nsps.keys()].filter((name) => name !== '/');
    this.logger.info({ namespaces: names.length }, 'namespace changes subscribed again: re-reading namespaces');
    await Promise.all(names.map((name) => this.changed(name)));
  }

  private async changed(name: string): Promise<void> {
    const nsp = this.io._nsps.get(name);
    if (!nsp || nsp.sockets.size === 0) return;
    let record;
    try {
      record = await this.namespaces.settings(name);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message, namespace: name }, 'could not read a changed namespace');
      return;
    }
    const timer = this.pending.get(name);
    if (record && !record.offline) {
      if (timer) clearTimeout(timer);
      this.pending.delete(name);
      return;
    }
    if (timer) return;
    const bound = this.delayBoundMs ?? seedOfflineDelayBound(nsp.sockets.size);
    const delay = Math.floor(Math.random() * (bound + 1));
    this.logger.info({ namespace: name, delayMs: delay, sockets: nsp.sockets.size }, 'namespace offline: dropping its sockets');
    this.pending.set(
      name,
      setTimeout(() => {
        this.pending.delete(name);
        for (const socket of nsp.sockets.values()) {
          socket.data.disconnectReason = 'namespace offline';
          socket.disconnect(true);
        }
      }, delay),
    );
  }

  stop(): void {
    this.started = false;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
