import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { pushDeadLetter, type DisconnectWebhookJob, type WebhookJob, type WebhookResult, type WebserviceUserWebhookJob } from '@herald/queues';
import { webserviceSettings } from '@herald/wire';
import type { NamespaceStore, RedisClient } from '@herald/store';
import { parseCallbackUrl, sendWebhook, WebhookDeliveryError } from './webhook-sender';

export interface WebhookProcessorOptions {
  /**
   * How long one delivery attempt may take (connect, send, response head) before it counts as failed
   * and is retried. It also bounds how long a graceful stop waits for a callback in flight.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * Webhook jobs one worker process runs at once. Jobs mostly wait on the network, so this is well
   * above the CPU count.
   * @default 16
   */
  readonly concurrency?: number;
}

export const WEBHOOK_DEFAULTS = Object.freeze({ timeoutMs: 5000, concurrency: 16 } satisfies Required<WebhookProcessorOptions>);

export interface WebhookProcessorDeps {
  readonly namespaces: NamespaceStore;
  /** Where dead letters go (any Herald connection). */
  readonly redis: RedisClient;
  /** `HERALD_REDIS_PREFIX`: the dead-letter key is built from it. */
  readonly keyPrefix: string;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /** HERALD_CALLBACK_ALLOW_PRIVATE: callbacks may go to loopback and link-local addresses. */
  readonly allowPrivate: boolean;
}

/**
 * Processes `webhooks` jobs. Secrets (cookie, callback_auth) and the URL's query never reach a log
 * line or a dead letter: log lines name the namespace, the clientId, the attempt and the reason.
 */
export class WebhookProcessor {
  private readonly log: Logger;

  constructor(private readonly deps: WebhookProcessorDeps) {
    this.log = deps.logger.child({ module: 'webhooks' });
  }

  /** The BullMQ processor function. Resolves when delivered or skipped; throws to fail the attempt. */
  readonly process = async (job: Job<WebhookJob, WebhookResult>): Promise<WebhookResult> => {
    const attempt = job.attemptsMade + 1;
    const context = { jobId: job.id, kind: job.data.kind, namespace: job.data.namespace, clientId: job.data.clientId, attempt };
    try {
      const result = await this.run(job.data);
      this.log.debug({ ...context, ...result }, 'webhook done');
      metrics.webhook(job.data.namespace, job.data.kind, result.outcome);
      return result;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const status = error instanceof WebhookDeliveryError ? error.status : undefined;
      // BullMQ itself tells a permanent failure by this name (Job.shouldRetryJob).
      const permanent = error instanceof UnrecoverableError || (error instanceof Error && error.name === 'UnrecoverableError');
      if (permanent || attempt >= (job.opts.attempts ?? 1)) {
        this.log.error({ ...context, status, reason }, 'webhook failed for good');
        await this.bury(job, reason, attempt);
        metrics.webhook(job.data.namespace, job.data.kind, 'failed');
      } else {
        this.log.warn({ ...context, status, reason }, 'webhook attempt failed, will retry');
        metrics.webhook(job.data.namespace, job.data.kind, 'retry');
      }
      throw error;
    }
  };

  private async run(data: WebhookJob): Promise<WebhookResult> {
    const kind: string = data.kind;
    switch (kind) {
      case 'disconnect':
        return this.disconnect(data as DisconnectWebhookJob);
      case 'webservice-user':
        return this.webserviceUser(data as WebserviceUserWebhookJob);
      default:
        // A job from a newer producer that this worker does not know: retrying cannot help.
        throw new UnrecoverableError(`unknown webhook kind "${kind.slice(0, 32)}"`);
    }
  }

  /** spec/seed-behaviour.md, 002: `POST <disconnect_callback>` `{cookie, authorization, namespace}` `{query}`. */
  private async disconnect(data: DisconnectWebhookJob): Promise<WebhookResult> {
    // Read at send time: a URL or callback_auth changed while the job waited applies, a removed one stops it.
    const record = await this.deps.namespaces.get(data.namespace);
    if (!record?.disconnectCallback) return { outcome: 'skipped' };
    const headers: Record<string, string> = { namespace: data.namespace };
    if (data.cookie !== undefined) headers['cookie'] = data.cookie;
    if (record.callbackAuth !== undefined) headers['authorization'] = record.callbackAuth;
    const status = await sendWebhook({
      url: parseCallbackUrl(record.disconnectCallback),
      headers,
      body: { query: data.query },
      timeoutMs: this.deps.timeoutMs,
      allowPrivate: this.deps.allowPrivate,
    });
    return { outcome: 'delivered', status };
  }

  /**
   * Webservice protocol (seed 001 `userStateChange`): `PUT <update_user_url>` with `:id` replaced by
   * the user id, `{id, user: {last_connected | last_disconnected: <ISO date>}}` and the handshake's
   * `Authorization: <auth_scheme> <token>`. The URL and scheme are read at send time.
   */
  private async webserviceUser(data: WebserviceUserWebhookJob): Promise<WebhookResult> {
    const record = await this.deps.namespaces.settings(data.namespace);
    if (!record || record.protocol !== 'webservice') return { outcome: 'skipped' };
    const settings = webserviceSettings(record.protocolSettings);
    if (!settings.updateUserUrl) return { outcome: 'skipped' };
    const headers: Record<string, string> = {};
    if (data.token !== undefined) headers['authorization'] = `${settings.authScheme} ${data.token}`;
    const status = await sendWebhook({
      url: parseCallbackUrl(settings.updateUserUrl.replaceAll(':id', encodeURIComponent(data.userId))),
      method: 'PUT',
      headers,
      body: { id: data.userId, user: { [data.field]: new Date(data.at).toISOString() } },
      timeoutMs: this.deps.timeoutMs,
      allowPrivate: this.deps.allowPrivate,
    });
    return { outcome: 'delivered', status };
  }

  /**
   * Records a webhook given up: a dead letter without secrets, and the cookie dropped from the job,
   * which BullMQ keeps for a day among the failed jobs. A failure here is logged, not thrown, so the
   * job still fails with its own reason.
   */
  private async bury(job: Job<WebhookJob, WebhookResult>, reason: string, attempts: number): Promise<void> {
    const { namespace, kind, clientId } = job.data;
    try {
      await pushDeadLetter(this.deps.redis, this.deps.keyPrefix, {
        namespace,
        kind,
        clientId,
        reason,
        attempts,
        at: Date.now(),
        jobId: job.id ?? '',
      });
      metrics.deadLetter(namespace, kind);
      if (job.data.kind === 'disconnect' && job.data.cookie !== undefined) {
        const { cookie: _dropped, ...rest } = job.data;
        await job.updateData(rest);
      }
      if (job.data.kind === 'webservice-user' && job.data.token !== undefined) {
        const { token: _dropped, ...rest } = job.data;
        await job.updateData(rest);
      }
    } catch (error) {
      this.log.error({ jobId: job.id, namespace, clientId, err: error instanceof Error ? error.message : String(error) }, 'cannot record the dead letter');
    }
  }
}
