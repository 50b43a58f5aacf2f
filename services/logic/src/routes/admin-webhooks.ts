import { Type } from '@sinclair/typebox';
import { Errors, HeraldError, compileValidator } from '@herald/wire';
import { readDeadLetters, type WebhookQueue } from '@herald/queues';
import type { RedisClient } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { DigitsField, boundedInteger, consoleRoute, queryReader } from './admin-query';

/** What the dead-letter routes get. */
export interface AdminWebhookRouteContext {
  readonly app: FastifyInstance;
  readonly redis: RedisClient;
  /** The Redis key prefix (`HERALD_REDIS_PREFIX`): the dead-letter list lives under it. */
  readonly keyPrefix: string;
  readonly webhooks: WebhookQueue;
}

const ListQuery = Type.Object({ count: Type.Optional(DigitsField) }, { additionalProperties: false });
const readListQuery = queryReader(ListQuery);
const ReplayBody = Type.Object({ jobId: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });
const validReplay = compileValidator(ReplayBody);

/**
 * Webhook dead letters (libs/queues/src/webhooks.ts): the list, each with its BullMQ job's state now,
 * and the replay of one — its failed job goes back to the queue for a fresh round of attempts.
 */
export function adminWebhookRoutes({ app, redis, keyPrefix, webhooks }: AdminWebhookRouteContext): void {
  app.get('/api/admin/webhooks/dead', consoleRoute('Webhook dead letters, newest first, with their job state', { querystring: ListQuery }), async (request) => {
    const query = readListQuery(request.query);
    const count = boundedInteger(query.count, 'count', 1, 1000, 100);
    const letters = await readDeadLetters(redis, keyPrefix, count);
    // The job is kept a day after it failed (RETENTION): `gone` once it was removed.
    const states = await Promise.all(letters.map(async (letter) => (await webhooks.bull.getJobState(letter.jobId)) as string));
    return { list: letters.map((letter, i) => ({ ...letter, state: states[i] === 'unknown' ? 'gone' : states[i] })) };
  });

  app.post('/api/admin/webhooks/dead/replay', consoleRoute('Send a dead letter again: its failed job gets a fresh round of attempts', { body: ReplayBody }), async (request) => {
    const body = request.body;
    if (!validReplay(body)) throw new HeraldError(Errors.BODY_INVALID, validReplay.lastError());
    const job = await webhooks.bull.getJob(body.jobId);
    if (!job) throw new HeraldError(Errors.DEAD_LETTER_NOT_FOUND);
    if ((await job.getState()) !== 'failed') throw new HeraldError(Errors.DEAD_LETTER_NOT_FAILED);
    // A fresh round of attempts; the cookie was dropped when the job failed for good (never kept).
    await job.retry('failed', { resetAttemptsMade: true });
    return { jobId: body.jobId, state: await job.getState() };
  });
}
