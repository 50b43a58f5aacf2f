import { Queue, type ConnectionOptions } from 'bullmq';
import type { RedisClient } from '@herald/store';
import { QUEUES } from './queue-names';
import { RETENTION } from './queues';

/**
 * A namespace's disconnect callback is due (spec/seed-behaviour.md, 002 "disconnect": `POST
 * <disconnect_callback>` with headers `{cookie, authorization: callback_auth, namespace}` and JSON body
 * `{query}`).
 *
 * The callback URL and `callback_auth` are not in the job: the worker reads them from the namespace
 * record when it sends, so no namespace secret is copied into job data, and a URL changed while the
 * job waits for a retry applies to that retry.
 */
export interface DisconnectWebhookJob {
  readonly kind: 'disconnect';
  readonly namespace: string;
  readonly clientId: string;
  /** The socket's handshake query, sent as the body `{query}`. */
  readonly query: Record<string, string | string[]>;
  /**
   * The handshake `cookie` header, sent back as `cookie`. The worker drops it from the job when the
   * job fails for good, so failed jobs kept for inspection do not hold it.
   */
  readonly cookie?: string;
  /** When the client disconnected (ms since the epoch). */
  readonly at: number;
}

/**
 * Webservice protocol (seed 001 `updateUserUrl`): a user's device connected or disconnected. The
 * worker sends `PUT <update_user_url with :id replaced>` with the JSON `{id, user: {<field>: <ISO
 * date>}}` and `Authorization: <auth_scheme> <token>`, the URL and scheme read from the namespace
 * when it sends.
 */
export interface WebserviceUserWebhookJob {
  readonly kind: 'webservice-user';
  readonly namespace: string;
  /** The device's clientId (dead letters and logs name it). */
  readonly clientId: string;
  /** The user id (seed `userRoomID`), `:id` of the URL and `id` of the body. */
  readonly userId: string;
  readonly field: 'last_connected' | 'last_disconnected';
  /**
   * The handshake token, sent back in `Authorization` as the seed did. The worker drops it from the
   * job when the job fails for good, so failed jobs kept for inspection do not hold it.
   */
  readonly token?: string;
  /** When the device connected or disconnected (ms since the epoch). */
  readonly at: number;
}

/** Every job of the `webhooks` queue; `kind` tells them apart. */
export type WebhookJob = DisconnectWebhookJob | WebserviceUserWebhookJob;
export type WebhookKind = WebhookJob['kind'];

/** What a webhooks job returns when it completes. */
export interface WebhookResult {
  /** `delivered`: the receiver answered 2xx; `skipped`: no namespace or no callback URL, nothing sent. */
  readonly outcome: 'delivered' | 'skipped';
  readonly status?: number;
}

/** Job id of a disconnect callback: an enqueue retried after a lost reply adds nothing twice. */
export function disconnectWebhookJobId(job: DisconnectWebhookJob): string {
  // BullMQ refuses custom ids containing ':'; names and clientIds cannot contain it (names.ts).
  return `disconnect|${job.namespace}|${job.clientId}|${job.at}`;
}

export interface WebhookQueueOptions {
  /**
   * Deliveries tried per webhook, the first one included.
   * @default 8
   */
  readonly attempts?: number;
  /**
   * Base delay of the exponential backoff: retry n waits up to `backoffMs × 2^(n-1)`. With the
   * defaults the 7 retries span at most 2+4+…+128 s ≈ 4 min, which rides out a receiver's restart.
   * @default 2000
   */
  readonly backoffMs?: number;
  /**
   * Share of each backoff delay drawn at random (BullMQ `jitter`): a delay is uniform in
   * `[(1 - jitter) × d, d]`, so the callbacks of a mass disconnect do not retry in lockstep.
   * @default 0.5
   */
  readonly jitter?: number;
}

/** The producer side of the `webhooks` queue (the connector, on disconnect). */
export class WebhookQueue {
  private readonly queue: Queue<WebhookJob, WebhookResult>;
  private readonly options: Required<WebhookQueueOptions>;

  /** @param prefix the BullMQ prefix, `keys.queuePrefix()`. */
  constructor(connection: ConnectionOptions, prefix: string, options: WebhookQueueOptions = {}) {
    this.queue = new Queue<WebhookJob, WebhookResult>(QUEUES.webhooks, { connection, prefix });
    this.options = Object.freeze({ attempts: options.attempts ?? 8, backoffMs: options.backoffMs ?? 2000, jitter: options.jitter ?? 0.5 });
  }

  /** Queues a disconnect callback; resolves with the job id once the job is in Redis. */
  async enqueueDisconnect(job: DisconnectWebhookJob): Promise<string> {
    const added = await this.queue.add('disconnect', job, {
      jobId: disconnectWebhookJobId(job),
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs, jitter: this.options.jitter },
      ...RETENTION,
    });
    return added.id!;
  }

  /** Queues a webservice user update (`update_user_url`); resolves with the job id once the job is in Redis. */
  async enqueueWebserviceUser(job: WebserviceUserWebhookJob): Promise<string> {
    const added = await this.queue.add('webservice-user', job, {
      jobId: `webservice-user|${job.namespace}|${job.clientId}|${job.field}|${job.at}`,
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs, jitter: this.options.jitter },
      ...RETENTION,
    });
    return added.id!;
  }

  /** The underlying BullMQ queue, for inspection (tests, admin). */
  get bull(): Queue<WebhookJob, WebhookResult> {
    return this.queue;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

// ---- dead letters

/** How many dead letters are kept; older ones are trimmed on each append. */
export const WEBHOOK_DEAD_LETTER_LENGTH = 1000;

/**
 * A webhook that failed for good: no attempts left, or a permanent failure (e.g. 4xx). It names the
 * job, never its secrets: no cookie, no `callback_auth`, no URL, no query.
 */
export interface WebhookDeadLetter {
  readonly namespace: string;
  readonly kind: WebhookKind;
  readonly clientId: string;
  /** Why the last attempt failed, e.g. `HTTP 400`, `timeout after 5000 ms`. */
  readonly reason: string;
  /** Attempts made, the last one included. */
  readonly attempts: number;
  /** When the webhook was given up (ms since the epoch). */
  readonly at: number;
  /** The BullMQ job id; the failed job is kept for a day (RETENTION) without its cookie. */
  readonly jobId: string;
}

/**
 * The dead-letter list (newest first, at most {@link WEBHOOK_DEAD_LETTER_LENGTH} entries).
 * @param prefix the Redis key prefix (`HERALD_REDIS_PREFIX`, `keys.prefix`), not the queue prefix:
 *   the list lives beside BullMQ's keys, not among them, so `Queue.obliterate()` leaves it alone.
 */
export function webhookDeadLetterKey(prefix: string): string {
  return `${prefix}webhooks:dead`;
}

/** Appends a dead letter and trims the list (one key: runs on Redis Cluster). */
export async function pushDeadLetter(redis: RedisClient, prefix: string, entry: WebhookDeadLetter): Promise<void> {
  const key = webhookDeadLetterKey(prefix);
  const results = await redis
    .multi()
    .lpush(key, JSON.stringify(entry))
    .ltrim(key, 0, WEBHOOK_DEAD_LETTER_LENGTH - 1)
    .exec();
  // EXEC reports a failed command in its result instead of rejecting.
  const failed = results?.find(([error]) => error);
  if (failed) throw failed[0];
}

/** The newest `count` dead letters, newest first. */
export async function readDeadLetters(redis: RedisClient, prefix: string, count = 100): Promise<WebhookDeadLetter[]> {
  if (count <= 0) return [];
  const raw = await redis.lrange(webhookDeadLetterKey(prefix), 0, count - 1);
  return raw.map((text) => JSON.parse(text) as WebhookDeadLetter);
}
