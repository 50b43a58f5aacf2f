import type { WorkerConfig } from '@herald/config';
import type { Logger } from '@herald/log';
import type { Service } from '@herald/runtime';
import { describeRedisTarget } from '@herald/config';
import { closeRedis, createRedis } from '@herald/store';
import type { Worker } from 'bullmq';

/**
 * Builds the unstarted worker role: the host of Herald's BullMQ workers (offline, apns, reports,
 * webhooks). Each queue's processor is registered in `processors`; the offline-delivery issue adds
 * them. Until then the role connects, reports ready, and stops cleanly, and the jobs that logic
 * enqueues wait in Redis for it (BullMQ keeps them; nothing is consumed and dropped).
 */
export function buildWorker(config: WorkerConfig, logger: Logger): Service & { readonly processors: Worker[] } {
  // BullMQ workers block on Redis and must wait through outages: no per-command retry limit.
  const redis = createRedis(config.redis, { name: 'herald-worker', maxRetriesPerRequest: null });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  const processors: Worker[] = [];
  return {
    processors,
    async start() {
      await redis.ping();
      logger.info({ redis: describeRedisTarget(config.redis), queues: processors.map((w) => w.name) }, 'connected');
      return undefined;
    },
    async close() {
      // Let running jobs finish (BullMQ `close()` waits for them) before the connection goes.
      await Promise.all(processors.map((worker) => worker.close()));
      await closeRedis(redis);
    },
  };
}
