import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import type { ApnsJob } from '@herald/queues';
import type { ApnsSettings, DeviceOutcome, Keys, MessageReport, MessageStore, MessageTimeline, NamespaceStore, RedisClient, Scripts } from '@herald/store';
import { maskToken, pipelineBySlot } from '@herald/store';
import type { Job } from 'bullmq';
import type { ApnsEndpoint, ApnsNotification, ApnsSender, ApnsSenderFactory, DeviceResult } from './apns-sender';
import { ApnsConfigError } from './node-apn-sender';

export interface ApnsDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly scripts: Scripts;
  readonly messages: MessageStore;
  /** Where each device's final outcome is told (the message's timeline). */
  readonly timeline: MessageTimeline;
  readonly namespaces: NamespaceStore;
  readonly endpoint: ApnsEndpoint;
  readonly createSender: ApnsSenderFactory;
  /** `aps.alert` when the push's apsData has none (HERALD_APNS_DEFAULT_ALERT). */
  readonly defaultAlert: string;
  readonly logger: Logger;
}

export interface ApnsResult {
  readonly sent: number;
  readonly failed: number;
  readonly skipped: number;
}

/** Reasons after which the token is wrong for good (Apple, "Handling notification responses"). */
const DROP_TOKEN = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'Unregistered', 'ExpiredToken']);
/** 403 reasons fixed by a new provider (a fresh JWT): rebuild it and retry. */
const REBUILD = new Set(['ExpiredProviderToken', 'InvalidProviderToken', 'MissingProviderToken']);

type Verdict = 'ok' | 'final' | 'retry';

/** What to do with one device's result (the APNs issue's outcome table). */
export function verdictOf(result: DeviceResult): Verdict {
  if (result.ok) return 'ok';
  const { status } = result;
  if (status === undefined) return 'retry'; // no answer: timeout, connection lost, GOAWAY
  if (status === 429 || status >= 500) return 'retry';
  if (status === 403) return 'retry'; // provider token or certificate: rebuilt, then retried
  return 'final'; // 400, 404, 405, 410, 413: the same request would fail again
}

/**
 * The name under which the report counts a failure (`apnsFailed:<kind>`): Apple's `reason`, one of
 * a closed set of words (`BadDeviceToken`, `Unregistered`, …; "Handling notification responses");
 * `NoAnswer` for an attempt without an answer, whatever the transport said — its text holds
 * addresses and ports, and the report must not grow a field per error text. The device's own
 * outcome keeps the full text.
 */
export function failureKind(result: DeviceResult): string {
  if (result.ok) return 'ok';
  if (result.status === undefined) return 'NoAnswer';
  return /^[A-Za-z]{1,64}$/.test(result.reason) ? result.reason : `Status${result.status}`;
}

/**
 * One batch of APNs deliveries of a message. Each device's outcome is recorded in the message's
 * APNs outcome hash once it is final; a retried job (BullMQ backoff) or a job re-run after a crash
 * skips devices with an outcome, so each device is sent once — twice at most when a crash falls
 * between APNs' answer and the record.
 */
export class ApnsProcessor {
  private readonly senders = new Map<string, { sender: ApnsSender; version: number }>();

  constructor(private readonly deps: ApnsDeps) {}

  readonly process = async (job: Job<ApnsJob>): Promise<ApnsResult> => {
    const { namespace, id, clientIds } = job.data;
    const { redis, keys, messages } = this.deps;
    const report = await messages.report(namespace, id);
    if (!report) return { sent: 0, failed: 0, skipped: clientIds.length };

    const resolved = await this.resolve(namespace, report.apnsName);
    if (typeof resolved === 'string') {
      await messages.updateReport(namespace, id, {}, { result: resolved });
      return { sent: 0, failed: 0, skipped: clientIds.length };
    }

    // Devices still to do: no outcome yet, not acked since the offline step chose them, a token
    // still registered.
    const outcomes = keys.apnsOutcomes(namespace, id);
    // The outcomes hash and the ack set share the message's tag; the client records are elsewhere.
    const [done, acked, tokens] = await Promise.all([
      redis.hmget(outcomes, ...clientIds),
      redis.smismember(keys.acks(namespace, id, 'ios'), ...clientIds),
      pipelineBySlot(redis, clientIds, (clientId) => keys.client(clientId), (pipeline, clientId) => pipeline.hget(keys.client(clientId), 'device_token')),
    ]);
    const byToken = new Map<string, string>();
    clientIds.forEach((clientId, i) => {
      const token = tokens[i]![0] as string | null;
      if (done[i] === null && acked[i] === 0 && token) byToken.set(token, clientId);
    });
    if (byToken.size === 0) return { sent: 0, failed: 0, skipped: clientIds.length };

    let sender: ApnsSender;
    try {
      sender = await this.sender(resolved.cacheKey, resolved.settings, resolved.version);
    } catch (error) {
      if (!(error instanceof ApnsConfigError)) throw error;
      await messages.updateReport(namespace, id, {}, { result: `apnsName:${resolved.settings.name} ${error.message}` });
      return { sent: 0, failed: 0, skipped: clientIds.length };
    }

    const results = await sender.send(this.notification(report, resolved.settings), [...byToken.keys()]);
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const recorded: DeviceOutcome[] = [];
    let retry = 0;
    let rebuild = false;
    for (const result of results) {
      const clientId = byToken.get(result.token);
      if (!clientId) continue;
      const verdict = verdictOf(result);
      if (verdict === 'ok') {
        recorded.push({
          clientId,
          outcome: 'ok',
          add: { apnsCount: 1, apnsSuccessCount: 1 },
          entry: { at: Date.now(), step: 'apns', clientId, outcome: 'ok', token: maskToken(result.token) },
        });
        metrics.apnsSent(namespace, 'ok');
        continue;
      }
      if (result.ok) continue;
      if (verdict === 'retry' && !lastAttempt) {
        retry++;
        metrics.apnsSent(namespace, 'retry', failureKind(result));
        if (result.status === 403 || result.status === undefined || REBUILD.has(result.reason)) rebuild = true;
        continue;
      }
      const outcome = `${result.status ?? 'no answer'} ${result.reason}`.slice(0, 200);
      recorded.push({
        clientId,
        outcome,
        add: { apnsCount: 1, [`apnsFailed:${failureKind(result)}`]: 1 },
        entry: { at: Date.now(), step: 'apns', clientId, outcome, token: maskToken(result.token) },
      });
      metrics.apnsSent(namespace, 'failed', failureKind(result));
      if (DROP_TOKEN.has(result.reason)) {
        const since = result.status === 410 ? (result.timestamp ?? 0) : 0;
        await this.deps.scripts.clientTokenDrop(keys.client(clientId), result.token, since);
      }
    }
    // Each device's outcome, counters and timeline entry in one script call: a crash cannot leave
    // an outcome without its counters (the re-run skips recorded devices), and a device recorded
    // by two runs of this batch counts once.
    await messages.recordOutcomes(namespace, id, recorded, { apnsEnv: sender.production ? 'production' : 'dev' }, this.deps.timeline.cap);
    if (rebuild) await this.drop(resolved.cacheKey);
    if (retry > 0) {
      // BullMQ retries the job with backoff; devices with an outcome are skipped then.
      throw new Error(`${retry} APNs deliveries to retry`);
    }
    const failed = recorded.filter((d) => d.outcome !== 'ok').length;
    return { sent: recorded.length - failed, failed, skipped: clientIds.length - byToken.size };
  };

  /** The APNs configuration of a push (seed: no apnsName → the `default` entry of namespace `/`). */
  private async resolve(namespace: string, apnsName: string | undefined): Promise<{ settings: ApnsSettings; cacheKey: string; version: number } | string> {
    const source = apnsName === undefined ? '/' : namespace;
    const name = apnsName ?? 'default';
    const record = await this.deps.namespaces.get(source);
    const settings = record?.apnsList.find((item) => item.name === name);
    if (!record || !settings) return apnsName === undefined ? 'no default apns' : `apnsName:${apnsName} not exists`;
    return { settings, cacheKey: `${source}\u0000${name}`, version: record.updateDate };
  }

  /** One sender per (namespace, apnsName), rebuilt when the namespace was saved since. */
  private async sender(cacheKey: string, settings: ApnsSettings, version: number): Promise<ApnsSender> {
    const cached = this.senders.get(cacheKey);
    if (cached && cached.version === version) return cached.sender;
    if (cached) await this.drop(cacheKey);
    const sender = this.deps.createSender(settings, this.deps.endpoint);
    this.senders.set(cacheKey, { sender, version });
    return sender;
  }

  private async drop(cacheKey: string): Promise<void> {
    const cached = this.senders.get(cacheKey);
    this.senders.delete(cacheKey);
    await cached?.sender.close();
  }

  private notification(report: MessageReport, settings: ApnsSettings): ApnsNotification {
    const apsData = report.pushData['apsData'];
    const payload: Record<string, unknown> = apsData && typeof apsData === 'object' && !Array.isArray(apsData) ? { ...(apsData as object) } : {};
    const aps = payload['aps'] && typeof payload['aps'] === 'object' ? { ...(payload['aps'] as object) } : {};
    if ((aps as Record<string, unknown>)['alert'] === undefined) (aps as Record<string, unknown>)['alert'] = this.deps.defaultAlert;
    payload['aps'] = aps;
    // Apple keeps and retries the notification until this time: the configured lifetime, or the
    // message's own expiry.
    const expiry = settings.apns_expiration
      ? Math.floor(Date.now() / 1000) + settings.apns_expiration
      : Math.floor((report.sendDate + report.expire * 3_600_000) / 1000);
    return { topic: settings.apns_topic, expiry, priority: 10, collapseId: String(report.id), payload };
  }

  async close(): Promise<void> {
    await Promise.all([...this.senders.keys()].map((key) => this.drop(key)));
  }
}
