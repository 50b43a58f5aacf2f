import type { Logger } from '@herald/log';
import { PLATFORMS, isPlatform, type Platform } from '@herald/protocol';
import { APNS_BATCH, type ApnsQueue, type OfflineJob } from '@herald/queues';
import type { InboxStore, Keys, MessageStore, MessageTimeline, RedisClient, RoomMembers } from '@herald/store';
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
  /** Where the step is told (the message's timeline). */
  readonly timeline: MessageTimeline;
  readonly members: RoomMembers;
  readonly inbox: InboxStore;
  readonly apns: ApnsQueue;
  readonly logger: Logger;
}

/** Platforms that get an inbox unless the namespace says otherwise (`inbox_platforms`). */
export const DEFAULT_INBOX_PLATFORMS: readonly Platform[] = ['android'];

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
    // The step's time in the timeline is when it began: the APNs jobs it queues may finish first.
    const startedAt = Date.now();
    const report = await messages.report(namespace, id);
    const ttlMs = await redis.pttl(keys.message(namespace, id));
    if (!report || ttlMs <= 0) return { outcome: 'expired', inboxed: 0, apnsDevices: 0 };

    const inboxPlatforms = await this.inboxPlatforms(namespace);
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
      const toApns = platform === 'ios';
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
    // The timeline first: once the report shows the step, its entry is there to read.
    await this.deps.timeline.append(namespace, id, [{ at: startedAt, step: 'offline', inbox: inboxed, apns: apnsDevices }]);
    await messages.updateReport(namespace, id, {}, { offline: `inbox:${inboxed} apns:${apnsDevices}` });
    this.deps.logger.debug({ namespace, id, inboxed, apnsDevices }, 'offline step done');
    return { outcome: 'done', inboxed, apnsDevices };
  };

  private async inboxPlatforms(namespace: string): Promise<readonly Platform[]> {
    const setting = await this.deps.redis.hget(this.deps.keys.namespace(namespace), 'inbox_platforms');
    if (!setting) return DEFAULT_INBOX_PLATFORMS;
    return setting.split(',').filter(isPlatform);
  }
}
