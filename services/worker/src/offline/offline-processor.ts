import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { PLATFORMS, isPlatform, offlinePolicyOf, type OfflinePolicy, type Platform } from '@herald/wire';
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
 * Members are paged (SSCAN), so a room of any size never builds one giant reply.
 *
 * The step is idempotent per device. Inbox adds repeat without effect. The APNs audience is written
 * to a list (`{nsp}:apns-aud:<id>`) in full — as a draft renamed once complete — before any batch is
 * enqueued, and batch `i` is always items `[100 i, 100 i + 99]` of that list under job id
 * `apns|nsp|id|i`. A re-run after a crash reads the stored list instead of scanning again, so it
 * builds exactly the same batches under the same ids: BullMQ adds the ones the crash missed and
 * ignores the others. (Scanning again would filter by the acks that arrived meanwhile, shift the
 * devices between batches, and the ids BullMQ already had would drop the devices that moved.)
 * Devices that acked after the audience was written are skipped by the APNs job itself.
 * Cost over the former step: one RPUSH per member page, a RENAME and a PEXPIRE (an EXISTS, and an
 * LRANGE on a re-run); still ⌈devices / 100⌉ jobs, one per device batch, never one per device.
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
    if (!report || ttlMs <= 0) {
      metrics.offlineStep(namespace, 'expired');
      return { outcome: 'expired', inboxed: 0, apnsDevices: 0 };
    }

    const { inboxPlatforms, apnsPlatforms } = await this.policy(namespace);
    const audienceKey = keys.apnsAudience(namespace, id);
    const draftKey = keys.apnsAudienceDraft(namespace, id);
    // Written by an earlier run of this step that crashed after it: that audience is final.
    const stored = (await redis.exists(audienceKey)) === 1;
    if (!stored) await redis.del(draftKey);
    let inboxed = 0;
    const audience: string[] = [];

    for (const platform of PLATFORMS) {
      const toInbox = inboxPlatforms.includes(platform);
      const toApns = apnsPlatforms.includes(platform) && !stored;
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
        const devices: string[] = [];
        targets.forEach((clientId, i) => {
          const [leaveMessage, deviceToken] = rows[i]![0] as (string | null)[];
          const muted = rows[i]![1] === 1;
          if (leaveMessage === 'false') return;
          if (toInbox) adds.push(inbox.add(clientId, id, ttlMs));
          if (toApns && deviceToken && !muted) devices.push(clientId);
        });
        inboxed += (await Promise.all(adds)).length;
        if (devices.length > 0) {
          await redis.rpush(draftKey, ...devices);
          audience.push(...devices);
        }
      }
    }
    if (stored) {
      audience.push(...(await redis.lrange(audienceKey, 0, -1)));
    } else if (audience.length > 0) {
      // Complete: from now on every run enqueues these batches and no others.
      await redis.multi().rename(draftKey, audienceKey).pexpire(audienceKey, Math.max(1, ttlMs)).exec();
    }
    const apnsDevices = audience.length;
    // One round trip per batch, so the first batches are sent while later ones are added.
    for (let b = 0; b * APNS_BATCH < audience.length; b++) {
      await apns.enqueue(namespace, id, [audience.slice(b * APNS_BATCH, (b + 1) * APNS_BATCH)], b);
    }
    // The timeline first: once the report shows the step, its entry is there to read.
    await this.deps.timeline.append(namespace, id, [{ at: startedAt, step: 'offline', inbox: inboxed, apns: apnsDevices }]);
    await messages.updateReport(namespace, id, {}, { offline: `inbox:${inboxed} apns:${apnsDevices}` });
    this.deps.logger.debug({ namespace, id, inboxed, apnsDevices }, 'offline step done');
    metrics.offlineStep(namespace, 'done', inboxed);
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
