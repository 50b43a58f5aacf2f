import type { Keys } from './keys';
import { NamespaceStore, type NamespaceChanges, type NamespaceSettings } from './namespace-store';
import { isCluster, type RedisClient } from './redis-connection';

export interface NamespaceCacheOptions {
  /**
   * Longest time an entry is used without reading Redis again. The namespace channel invalidates
   * entries at once; this bounds the damage of a notice that never came (it cannot while the
   * subscription is up, and the cache is bypassed while it is down).
   * @default 30000
   */
  readonly maxAgeMs?: number;
  /**
   * Most namespaces kept; past it the cache starts again empty (a tenant count this large is far
   * beyond what one logic process serves from memory anyway).
   * @default 10000
   */
  readonly maxEntries?: number;
}

interface Entry {
  readonly value: NamespaceSettings | null;
  readonly at: number;
}

/** The part of ioredis' (internal) ClusterSubscriber this store reads. */
interface ClusterSubscription {
  getInstance(): { readonly status: string } | null;
  readonly lastActiveSubscriber?: unknown;
}

/**
 * On a Redis Cluster, the connection that holds the client's SUBSCRIBEs, once it has them all:
 * ioredis' ClusterSubscriber keeps one connection to one node, and when it drops picks another node
 * and subscribes again there, without any event on the Cluster (its 'close' and 'ready' are the
 * cluster's). Undefined while there is none, or it is not ready, or its re-subscription is pending.
 */
function clusterSubscription(client: RedisClient): unknown {
  const subscription = (client as unknown as { subscriber?: ClusterSubscription }).subscriber;
  const instance = subscription?.getInstance();
  if (!instance || instance.status !== 'ready' || subscription!.lastActiveSubscriber !== instance) return undefined;
  return instance;
}

/**
 * The namespace store of a busy request path: `settings()` (read by every authenticated request,
 * so by every push) comes from memory, kept coherent by the namespace channel on which every save
 * and every removal is announced (NamespaceStore.save / remove).
 *
 * Coherence:
 * - a save or removal through this instance drops the entry before it resolves, so a caller sees its
 *   own change at once;
 * - a change by another process drops the entry when its notice arrives (milliseconds);
 * - while the subscription is down (Redis restarting) notices may be lost, so the cache is emptied
 *   and bypassed until the channel is subscribed again; on a Redis Cluster that includes the
 *   subscription moving to another node (checked on every read: ioredis announces no such move);
 * - a read that raced with a notice is not stored (a generation counter), so a stale answer read
 *   just before a change cannot be kept after it.
 */
export class CachedNamespaceStore extends NamespaceStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private generation = 0;
  private live = false;
  private readonly channel: string;
  /**
   * Redis Cluster: the connection that held the subscription when the cache went live (null: none
   * ready then). Undefined on a single Redis and before the first subscribe, when nothing is checked.
   */
  private watched: unknown;

  constructor(
    redis: RedisClient,
    keys: Keys,
    private readonly subscriber: RedisClient,
    options: NamespaceCacheOptions = {},
  ) {
    super(redis, keys);
    this.channel = keys.namespaceChannel();
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    subscriber.on('message', (channel: string, nsp: string) => {
      if (channel === this.channel) this.invalidate(nsp);
    });
    // Notices sent while the connection is down are lost: forget everything and read through
    // until the channel is subscribed again.
    subscriber.on('close', () => this.suspend());
    subscriber.on('ready', () => void this.subscribe().catch(() => undefined));
  }

  /** True while settings are served from memory (the namespace channel is subscribed). */
  get active(): boolean {
    if (this.watched !== undefined) this.checkClusterSubscription();
    return this.live;
  }

  /** Subscribes to the namespace channel; the cache serves from memory from then on. */
  async start(): Promise<void> {
    await this.subscribe();
  }

  override async settings(nsp: string): Promise<NamespaceSettings | null> {
    if (this.watched !== undefined) this.checkClusterSubscription();
    const now = Date.now();
    const hit = this.entries.get(nsp);
    if (this.live && hit && now - hit.at < this.maxAgeMs) return hit.value;
    const generation = this.generation;
    const value = await super.settings(nsp);
    if (this.live && generation === this.generation) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(nsp, { value, at: now });
    }
    return value;
  }

  override async save(nsp: string, changes: NamespaceChanges): Promise<boolean> {
    try {
      return await super.save(nsp, changes);
    } finally {
      this.invalidate(nsp);
    }
  }

  override async remove(nsp: string): Promise<number> {
    try {
      return await super.remove(nsp);
    } finally {
      this.invalidate(nsp);
    }
  }

  private invalidate(nsp: string): void {
    this.generation++;
    this.entries.delete(nsp);
  }

  private suspend(): void {
    this.live = false;
    this.generation++;
    this.entries.clear();
  }

  /**
   * Redis Cluster: a subscription that moved to another node may have missed notices in between:
   * forget everything, and serve from memory again once the new connection holds the channel.
   */
  private checkClusterSubscription(): void {
    const current = clusterSubscription(this.subscriber);
    if (current === this.watched) return;
    this.suspend();
    if (current !== undefined) {
      this.watched = current;
      this.live = true;
    }
  }

  private async subscribe(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
    if (isCluster(this.subscriber)) this.watched = clusterSubscription(this.subscriber) ?? null;
    // Subscribed: from now on every change is announced to us. Anything read before may be stale.
    this.generation++;
    this.entries.clear();
    this.live = true;
  }
}
