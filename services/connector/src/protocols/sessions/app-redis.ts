import type { RedisTarget } from '@herald/config';
import { describeRedisTarget } from '@herald/config';
import type { Logger } from '@herald/log';
import { closeRedis, createRedis, isCluster, type RedisClient } from '@herald/store';

/** What an application Redis tells its users. */
export interface AppRedisHandlers {
  /** A keyspace notification: `event` (set, del, expired, …) happened to `key`. */
  keyspace(key: string, event: string): void;
  /** A message on a subscribed channel. */
  message(channel: string, text: string): void;
  /** A subscriber connection is back after a loss: changes made meanwhile were not notified. */
  resubscribed(): void;
}

/**
 * The keyspace-notification classes the sessions protocol needs (Redis "Keyspace notifications"):
 * `K` keyspace channels, `g` generic commands (DEL, EXPIRE, RENAME), `$` string commands (SET),
 * `x` expired keys, `e` evicted keys. `A` stands for every class but `K`/`E`/`m`/`n`.
 */
const NEEDED_CLASSES = ['g', '$', 'x', 'e'] as const;

/** The flags to set for `current` to include what Herald needs, or undefined when it already does. */
export function mergedKeyspaceFlags(current: string): string | undefined {
  let flags = current;
  if (!flags.includes('K')) flags += 'K';
  if (!flags.includes('A')) for (const c of NEEDED_CLASSES) if (!flags.includes(c)) flags += c;
  return flags === current ? undefined : flags;
}

/** The database a single-server URL names (`/2`), 0 otherwise: keyspace channels carry it. */
function databaseOf(target: RedisTarget): number {
  if (target.kind === 'cluster') return 0;
  const path = new URL(target.url).pathname.replace(/^\//, '');
  return path === '' ? 0 : Number(path);
}

interface Subscription {
  count: number;
  readonly ready: Promise<void>;
}

/**
 * The connections of one connector to one application Redis (a namespace's `session_redis_url`, or
 * Herald's own): one for commands (GET of session keys, CONFIG) and the subscriber(s) — one for a
 * single server; one per master of a Redis Cluster, because keyspace notifications are published
 * only on the node that holds the key (Redis Cluster specification, "Pub/Sub"), while a classic
 * PUBLISH reaches every node, so channels are subscribed on one of them only. Every socket of every
 * sessions namespace using this Redis shares them; patterns and channels are reference-counted.
 */
export class AppRedis {
  readonly commands: RedisClient;
  private subscribers: RedisClient[] = [];
  private readonly database: number;
  private readonly patterns = new Map<string, Subscription>();
  private readonly channels = new Map<string, Subscription>();
  private started: Promise<void> | undefined;
  private closed = false;
  /** Where this Redis is, without its password (log lines). */
  readonly description: string;

  constructor(
    private readonly target: RedisTarget,
    private readonly handlers: AppRedisHandlers,
    private readonly logger: Logger,
  ) {
    this.description = describeRedisTarget(target);
    this.database = databaseOf(target);
    this.commands = createRedis(target, { name: 'herald-sessions-commands' });
    this.commands.on('error', (err: Error) => this.logger.warn({ err: err.message, redis: this.description }, 'application redis connection error'));
  }

  /** Connects the subscribers and enables keyspace notifications, once. */
  start(): Promise<void> {
    // A failed start (the Redis is down) is tried again by the next caller.
    this.started ??= this.connect().catch((error: unknown) => {
      this.started = undefined;
      throw error;
    });
    return this.started;
  }

  private async connect(): Promise<void> {
    await this.commands.ping();
    await this.enableKeyspaceEvents(true);
    // Closed meanwhile (the last socket left, the connector stops): open nothing more.
    if (this.closed) throw new Error('application Redis link closed');
    // A cluster's masters, each as a single-server target (the subscriber of one node).
    const targets: RedisTarget[] = isCluster(this.commands)
      ? this.commands.nodes('master').map((node) => {
          const { host, port, username, password } = node.options;
          const auth = password ? `${encodeURIComponent(username ?? '')}:${encodeURIComponent(password)}@` : '';
          return { kind: 'single' as const, url: `redis://${auth}${host?.includes(':') ? `[${host}]` : host}:${port}` };
        })
      : [this.target];
    this.subscribers = targets.map((target, i) => {
      const subscriber = createRedis(target, { name: 'herald-sessions-sub', maxRetriesPerRequest: null });
      subscriber.on('error', (err: Error) => this.logger.warn({ err: err.message, redis: this.description }, 'application redis subscriber error'));
      subscriber.on('pmessage', (_pattern: string, channel: string, event: string) => {
        const at = channel.indexOf('__:');
        if (at >= 0) this.handlers.keyspace(channel.slice(at + 3), event);
      });
      if (i === 0) subscriber.on('message', (channel: string, text: string) => this.handlers.message(channel, text));
      let readyBefore = false;
      subscriber.on('ready', () => {
        if (!readyBefore) {
          readyBefore = true;
          return;
        }
        // A Redis restarted without the setting in its configuration forgets it: set it again, and
        // look every session up again (ioredis re-subscribes by itself).
        if (this.closed) return;
        void this.enableKeyspaceEvents(false).finally(() => this.handlers.resubscribed());
      });
      return subscriber;
    });
    await Promise.all(this.subscribers.map((s) => s.ping()));
  }

  /**
   * `CONFIG SET notify-keyspace-events`, merged with the flags already set (another application may
   * rely on them). Managed Redis services often refuse CONFIG: then the operator must set it, and
   * the log says so clearly — without it a session set, deleted or expired after `authenticate` is
   * not seen until the client authenticates again.
   */
  private async enableKeyspaceEvents(first: boolean): Promise<void> {
    const nodes = isCluster(this.commands) ? this.commands.nodes('master') : [this.commands];
    for (const node of nodes) {
      const where = isCluster(this.commands) ? `${node.options.host}:${node.options.port}` : this.description;
      try {
        const [, current = ''] = (await node.config('GET', 'notify-keyspace-events')) as string[];
        const flags = mergedKeyspaceFlags(current);
        if (flags === undefined) {
          if (first) this.logger.info({ redis: where, flags: current }, 'sessions: keyspace notifications already enabled');
          continue;
        }
        await node.config('SET', 'notify-keyspace-events', flags);
        this.logger.info({ redis: where, was: current, now: flags }, 'sessions: keyspace notifications enabled (CONFIG SET notify-keyspace-events)');
      } catch (error) {
        this.logger.warn(
          { redis: where, err: (error as Error).message },
          'sessions: cannot enable keyspace notifications on the application Redis (CONFIG refused); sessions set, deleted or expired after authenticate will NOT re-bind sockets live unless its configuration sets notify-keyspace-events to include K, g, $ and x (e.g. "Kg$xe")',
        );
      }
    }
  }

  /** Watches the keys starting with `prefix` and the channel; resolves once both are subscribed. */
  async watch(prefix: string, channel: string): Promise<void> {
    await this.start();
    const pattern = `__keyspace@${this.database}__:${prefix}*`;
    await Promise.all([
      this.acquire(this.patterns, pattern, () => Promise.all(this.subscribers.map((s) => s.psubscribe(pattern)))),
      this.acquire(this.channels, channel, () => this.subscribers[0]!.subscribe(channel)),
    ]);
  }

  unwatch(prefix: string, channel: string): void {
    const pattern = `__keyspace@${this.database}__:${prefix}*`;
    this.release(this.patterns, pattern, () => Promise.all(this.subscribers.map((s) => s.punsubscribe(pattern))));
    this.release(this.channels, channel, () => this.subscribers[0]!.unsubscribe(channel));
  }

  private acquire(map: Map<string, Subscription>, name: string, subscribe: () => Promise<unknown>): Promise<void> {
    const held = map.get(name);
    if (held) {
      held.count++;
      return held.ready;
    }
    const ready = subscribe().then(() => undefined);
    map.set(name, { count: 1, ready });
    ready.catch(() => map.get(name)?.ready === ready && map.delete(name));
    return ready;
  }

  private release(map: Map<string, Subscription>, name: string, unsubscribe: () => Promise<unknown>): void {
    const held = map.get(name);
    if (!held) return;
    if (--held.count > 0) return;
    map.delete(name);
    if (!this.closed) void held.ready.then(unsubscribe).catch(() => undefined);
  }

  /** Closes every connection now, also while a start is under way (a Redis that is down must not hold a shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscribers.map((s) => closeRedis(s)), closeRedis(this.commands)]);
  }
}
