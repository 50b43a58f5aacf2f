import { EventEmitter } from 'node:events';
import type { Logger } from '@herald/log';
import { Errors, HeraldError, isValidName, validatePushRequest } from '@herald/wire';
import type { NamespaceStore, RedisClient } from '@herald/store';
import type { PushResult, PushService } from './push-service';

/**
 * The ingresses of the neutral publish path (docs/architecture.md "Ingresses"): every way a message
 * enters Herald ends in PushService#push — store, count, schedule the offline step, publish —
 * after the same validation:
 * - REST: `POST /api/auth/push` (services/logic/src/routes/push.ts);
 * - a client event: the push protocol's client `push` (protocols/push/client-events.ts), the
 *   sender excluded;
 * - a Redis pub/sub channel: ChannelIngress below (the sessions protocol's `notifications`
 *   channel will be one).
 */

/** What ChannelIngress reports for each message it read. */
export interface ChannelIngressEvents {
  accepted: [{ readonly namespace: string; readonly result: PushResult }];
  refused: [{ readonly code: string; readonly msg: string }];
}

/**
 * A Redis pub/sub channel as an ingress: each message is JSON `{namespace, room, pushData, …}` —
 * the REST push body plus the namespace — and goes through the REST push's checks (the namespace
 * exists and is not offline, the same push schema) into PushService#push. Pub/sub has no answer: a
 * refused message is logged with its catalogue code (never its content) and emitted as `refused`.
 * Pub/sub is at most once: a message published while no ingress listens is lost, so a publisher
 * that needs a receipt uses REST.
 */
export class ChannelIngress extends EventEmitter<ChannelIngressEvents> {
  private readonly onMessage = (channel: string, text: string) => {
    if (channel === this.channel) void this.receive(text);
  };

  constructor(
    /** A connection for this subscription only (a subscribed connection can do nothing else). */
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly namespaces: NamespaceStore,
    private readonly push: PushService,
    private readonly logger: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    this.subscriber.on('message', this.onMessage);
    await this.subscriber.subscribe(this.channel);
  }

  async stop(): Promise<void> {
    this.subscriber.off('message', this.onMessage);
    await this.subscriber.unsubscribe(this.channel);
  }

  private async receive(text: string): Promise<void> {
    try {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new HeraldError(Errors.JSON_INVALID);
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HeraldError(Errors.BODY_INVALID, 'message must be a JSON object');
      const { namespace, ...fields } = body as Record<string, unknown>;
      if (namespace === undefined || namespace === '') throw new HeraldError(Errors.NAMESPACE_EMPTY);
      if (!isValidName('namespace', namespace)) throw new HeraldError(Errors.NAMESPACE_INVALID);
      const record = await this.namespaces.settings(namespace);
      if (!record) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
      const request = validatePushRequest(fields, record.offline);
      const result = await this.push.push(namespace, request);
      this.emit('accepted', { namespace, result });
    } catch (error) {
      const refusal = error instanceof HeraldError ? error : new HeraldError(Errors.STORE_UNAVAILABLE);
      if (!(error instanceof HeraldError)) this.logger.error({ err: error, channel: this.channel }, 'channel message failed');
      else this.logger.warn({ channel: this.channel, code: refusal.code, msg: refusal.message }, 'channel message refused');
      this.emit('refused', { code: refusal.code, msg: refusal.message });
    }
  }
}
