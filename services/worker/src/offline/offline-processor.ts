import type { Logger } from '@herald/log';
import { PLATFORMS, isPlatform, offlinePolicyOf, type OfflinePolicy, type Platform } from '@herald/protocol';
import { APNS_BATCH, type ApnsQueue, type OfflineJob } from '@herald/queues';
import type { InboxStore, Keys, MessageStore, RedisClient, RoomMembers } from '@herald/store';
import { pipelineBySlot } from '@herald/store';
import type { Job } from 'bullmq';

export interface OfflineResult {
  readonly outcome: 'expired' | 'done';
  readonly inboxed: number;
  readonly apnsDevices: number;
}

export interface OfflineDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly messages: MessageStore;
  readonly members: RoomMembers;
  readonly inbox: InboxStore;
  readonly apns: ApnsQueue;
  readonly logger: Logger;
}

/** Platforms that get an inbox unless the namespace says otherwise (`inbox_platforms`): the push protocol's. */
export const DEFAULT_INBOX_PLATFORMS: readonly Platform[] = offlinePolicyOf('push').inboxPlatforms;

/**
 * The offline step of one message (DESIGN.md, Delivery semantics), run `HERALD_OFFLINE_DELAY_MS`
 * after a push with `leaveMessage`. Targets are the room's members who did not ack, minus `except`:
 * - inbox platforms (Android; a namespace may add web and iOS): the id goes to each client's inbox,
 *   unless that client set `leaveMessage: false` — each client on its own (the seed stopped at the
 *   first such client, and an unrelated typo stopped the whole step);
 * - iOS: one APNs delivery per device, in batch jobs, skipping clients without a device token, with
 *   `leaveMessage: false`, or that muted the room (exact name; the seed matched substrings).
 * Members are paged (SSCAN), so a room of any size never builds one giant reply. The step is
 * idempotent: re-run after a crash, inbox adds and batch job ids repeat without effect.
 */
export class OfflineProcessor {
  constructor(private readonly deps: OfflineDeps) {}

  readonly process = async (job: Job<OfflineJob>): Promise<OfflineResult> => {
    const { namespace, id } = job.data;
    const { redis, keys, messages, members, inbox, apns } = this.deps;
    const report = await messages.report(namespace, id);
    const ttlMs = await redis.pttl(keys.message(namespace, id));
    if (!report || ttlMs <= 0) return { outcome: 'expired', inboxed: 0, apnsDevices: 0 };

    const { inboxPlatforms, apnsPlatforms } = await this.policy(namespace);
    let inboxed = 0;
    let apnsDevices = 0;
    let batch: string[] = [];
    let batchIndex = 0;
    /** Enqueues full batches (or, at the end, whatever is left). */
    const flush = async (all: boolean) => {
      while (batch.length >= APNS_BATCH || (all && batch.length > 0)) {
        await apns.enqueue(namespace, id, [batch.slice(0, APNS_BATCH)], batchIndex++);
        batch = batch.slice(APNS_BATCH);
      }
    };

    for (const platform of PLATFORMS) {
      const toInbox = inboxPlatforms.includes(platform);
      const toApns = apnsPlatforms.includes(platform);
      if (!toInbox && !toApns) continue;
      for await (const page of members.pages(namespace, report.room, platform)) {
        const acked = await redis.smismember(keys.acks(namespace, id, platform), ...page);
        const targets = page.filter((clientId, i) => acked[i] === 0 && clientId !== report.except);
        if (targets.length === 0) continue;
        // One client's record and do-not-disturb set share its tag; clients differ in slot.
        const rows = await pipelineBySlot(redis, targets, (clientId) => keys.client(clientId), (pipeline, clientId) => {
          pipeline.hmget(keys.client(clientId), 'leaveMessage', 'device_token');
          pipeline.sismember(keys.clientMuted(clientId), report.room);
        });
        const adds: Promise<number>[] = [];
        targets.forEach((clientId, i) => {
          const [leaveMessage, deviceToken] = rows[i]![0] as (string | null)[];
          const muted = rows[i]![1] === 1;
          if (leaveMessage === 'false') return;
          if (toInbox) adds.push(inbox.add(clientId, id, ttlMs));
          if (toApns && deviceToken && !muted) {
            batch.push(clientId);
            apnsDevices++;
          }
        });
        inboxed += (await Promise.all(adds)).length;
        await flush(false);
      }
    }
    await flush(true);
    await messages.updateReport(namespace, id, {}, { offline: `inbox:${inboxed} apns:${apnsDevices}` });
    this.deps.logger.debug({ namespace, id, inboxed, apnsDevices }, 'offline step done');
    return { outcome: 'done', inboxed, apnsDevices };
  };

  /** The offline policy of the namespace's protocol (OFFLINE_POLICIES), its `inbox_platforms` winning. */
  private async policy(namespace: string): Promise<OfflinePolicy> {
    const [setting, protocol] = await this.deps.redis.hmget(this.deps.keys.namespace(namespace), 'inbox_platforms', 'protocol');
    const policy = offlinePolicyOf(protocol);
    if (!setting) return policy;
    return { ...policy, inboxPlatforms: setting.split(',').filter(isPlatform) };
  }
}
