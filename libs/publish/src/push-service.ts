import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { Errors, HeraldError, publicPushData, type PushEnvelope, type PushRequest } from '@herald/wire';
import type { OfflineQueue } from '@herald/queues';
import { MessageStore, Scripts, pipelineBySlot, type AcceptOptions, type Keys, type MessageReport, type PushToAccept, type RedisClient } from '@herald/store';
import type { PacketTemplate } from './adapter-packet';
import type { ConnectorBus } from './connector-bus';

export interface PushResult {
  readonly id: number;
  /** Clients online in the room when the push was accepted, minus `except`. */
  readonly expectAckCount: number;
}

export interface PushServiceOptions {
  /** Delay of the offline step after a push with `leaveMessage` (HERALD_OFFLINE_DELAY_MS). */
  readonly offlineDelayMs: number;
}

/** What a push call may add to the store: the caller's rate limit and idempotency key. */
export type PushOptions = AcceptOptions;

/**
 * The envelope the connectors get for a stored push: the ONE place that knows its shape. The store
 * script only splices the id into the packet encoded from it (adapter-packet.ts).
 */
export function pushEnvelope(namespace: string, request: PushRequest, id: number, sendDate: number): PushEnvelope {
  return {
    message: { id, namespace, room: request.room, pushData: publicPushData(request.pushData), sendDate },
    ...(request.except !== undefined ? { except: request.except } : {}),
    ...(request.leaveMessage ? {} : { inbox: false as const }),
  };
}

/**
 * The envelope logic published for a stored message, rebuilt from its report (a connector's
 * catch-up after its adapter subscriber was away); undefined for `extra: "lost"`, which is never
 * published on purpose.
 */
export function storedEnvelope(report: MessageReport): PushEnvelope | undefined {
  if (report.extra === 'lost') return undefined;
  const { room, pushData, apnsName, leaveMessage, except, expire, extra } = report;
  return pushEnvelope(report.namespace, { room, pushData, apnsName, leaveMessage, except, expire, extra }, report.id, report.sendDate);
}

/**
 * The push path, in one place for every ingress (REST push and batch, client push):
 * 1. one script call (libs/store/lua/push-accept.lua) checks the caller's failed-authentication
 *    limit and idempotency key, stores each message, its report and history entry, counts its
 *    audience and — on a single Redis, for a push without `leaveMessage` — publishes it to every
 *    connector: the push is accepted and on its way in one round trip;
 * 2. with `leaveMessage`, enqueue the delayed `offline` job, then publish — the job before the
 *    publish, so that a crash between the two can lose only the live copy, which the offline step
 *    re-sends to whoever did not ack, never the offline copy; the answer leaves only after the job
 *    is enqueued, and a retry with the same idempotency key enqueues it again (BullMQ dedups by id);
 * 3. on a Redis Cluster, publish after the script (SPUBLISH cannot share the script's slot,
 *    docs/redis-cluster.md), and count the audience before it, in the round trip of the rate limit.
 * `extra: "lost"` publishes nothing, to let client developers test their resync. A refused publish
 * is logged, never thrown: the push is stored and the offline step re-delivers.
 */
export class PushService {
  private readonly messages: MessageStore;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly bus: ConnectorBus,
    private readonly offline: OfflineQueue,
    private readonly options: PushServiceOptions,
    private readonly logger: Logger,
  ) {
    this.messages = new MessageStore(redis, keys, new Scripts(redis));
  }

  async push(namespace: string, request: PushRequest, from?: string, options: PushOptions = {}): Promise<PushResult> {
    const [result] = await this.accept(namespace, [request], from, options);
    return result!;
  }

  /** Valid pushes of one namespace, in one script call; results in request order. */
  pushBatch(namespace: string, requests: readonly PushRequest[], options: PushOptions = {}): Promise<PushResult[]> {
    return this.accept(namespace, requests, undefined, options);
  }

  private async accept(namespace: string, requests: readonly PushRequest[], from: string | undefined, options: PushOptions): Promise<PushResult[]> {
    const sendDate = Date.now();
    const sharded = this.bus.kind === 'sharded';
    const templates: (PacketTemplate | undefined)[] = requests.map((request) =>
      request.extra === 'lost' ? undefined : this.bus.pushTemplate(namespace, (id) => pushEnvelope(namespace, request, id, sendDate)),
    );
    // The script publishes what can go before the offline job (no leaveMessage) on a single Redis.
    const inScript = requests.map((request, i) => !sharded && templates[i] !== undefined && !request.leaveMessage);
    let audiences: number[] | undefined;
    let storeOptions = options;
    if (sharded) {
      [audiences] = await Promise.all([this.audiences(namespace, requests), this.checkAuthFailures(options)]);
      storeOptions = { ...(options.idempotency ? { idempotency: options.idempotency } : {}) };
    }
    const pushes: PushToAccept[] = requests.map((request, i) => ({
      request,
      ...(from !== undefined ? { from } : {}),
      ...(inScript[i] ? { publish: templates[i]! } : {}),
      ...(audiences ? { audience: audiences[i]! } : {}),
    }));
    const outcome = await this.messages.accept(namespace, pushes, storeOptions, sendDate);

    switch (outcome.kind) {
      case 'limited':
        throw new HeraldError(Errors.TOO_MANY_ATTEMPTS);
      case 'conflict':
        throw new HeraldError(Errors.IDEMPOTENCY_KEY_REUSED);
      case 'replayed': {
        // Same key, same body: the first answer. Valid pushes are matched in order; a namespace
        // setting changed since (e.g. `offline`) can change which are valid: then it is no replay.
        if (outcome.pushes.length !== requests.length) throw new HeraldError(Errors.IDEMPOTENCY_KEY_REUSED, 'the pushes valid now differ from the first request’s');
        // The first call may have died before its offline jobs were enqueued: enqueue again, unless
        // the step already ran (the job id makes a pending job a no-op).
        await Promise.all(
          outcome.pushes.map((push, i) =>
            requests[i]!.leaveMessage && !push.offlineDone ? this.offline.schedule({ namespace, id: push.id }, this.options.offlineDelayMs) : undefined,
          ),
        );
        this.logger.debug({ namespace, ids: outcome.pushes.map((push) => push.id) }, 'push replayed (idempotency key)');
        return outcome.pushes.map(({ id, expectAckCount }) => ({ id, expectAckCount }));
      }
      case 'accepted': {
        const accepted = outcome.pushes;
        metrics.pushAccepted(namespace, accepted.length);
        await Promise.all(
          accepted.map((push, i) => (requests[i]!.leaveMessage ? this.offline.schedule({ namespace, id: push.id }, this.options.offlineDelayMs) : undefined)),
        );
        accepted.forEach((push, i) => {
          if (inScript[i]) {
            if (typeof push.published === 'string') this.bus.refused(namespace, 'herald:push', push.published);
          } else if (templates[i]) {
            this.bus.publishPush(namespace, templates[i]!, push.id);
          }
        });
        if (this.logger.isLevelEnabled('debug')) {
          for (const push of accepted) this.logger.debug({ namespace, id: push.id, expectAckCount: push.expectAckCount }, 'push accepted');
        }
        return accepted.map(({ id, expectAckCount }) => ({ id, expectAckCount }));
      }
    }
  }

  /**
   * Redis Cluster: the audience of each push, read before the store (the room's online set is in
   * another slot than the messages). One pipeline per node.
   */
  private async audiences(namespace: string, requests: readonly PushRequest[]): Promise<number[]> {
    const replies = await pipelineBySlot(
      this.redis,
      requests,
      (request) => this.keys.roomOnline(namespace, request.room),
      (pipeline, request) => {
        const key = this.keys.roomOnline(namespace, request.room);
        pipeline.scard(key);
        if (request.except !== undefined) pipeline.sismember(key, request.except);
      },
    );
    return replies.map(([count, excluded]) => Number(count) - Number(excluded ?? 0));
  }

  /** Redis Cluster: the failed-authentication counter lives in another slot, so it is read apart. */
  private async checkAuthFailures(options: PushOptions): Promise<void> {
    if (!options.authFailures) return;
    const count = Number((await this.redis.get(options.authFailures.key)) ?? 0);
    if (count >= options.authFailures.limit) throw new HeraldError(Errors.TOO_MANY_ATTEMPTS);
  }
}
