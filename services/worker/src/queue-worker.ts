import type { WorkerConfig } from '@herald/config';
import type { Logger } from '@herald/log';
import { RETENTION, type QueueName } from '@herald/queues';
import { closeRedis, createRedis, Keys } from '@herald/store';
import { Worker, type Processor } from 'bullmq';

export interface QueueWorkerOptions {
  /** Jobs of this queue one process runs at once. */
  readonly concurrency: number;
}

/** One BullMQ worker of the worker role, with its own Redis connection. */
export interface QueueWorker {
  /** The BullMQ worker, for inspection (tests, metrics). */
  readonly bull: Worker;
  /** Connects and starts taking jobs. */
  start(): Promise<void>;
  /** Stops taking jobs, waits for the running ones to finish, closes the connection. */
  close(): Promise<void>;
}

/**
 * Creates an unstarted BullMQ worker on one of Herald's queues: the queue prefix of the config,
 * explicit concurrency, bounded job retention, and a connection of its own that waits through Redis
 * outages (`maxRetriesPerRequest: null`, which BullMQ requires for its blocking commands).
 */
export function createQueueWorker<D, R>(
  queue: QueueName,
  processor: Processor<D, R>,
  config: WorkerConfig,
  logger: Logger,
  options: QueueWorkerOptions,
): QueueWorker {
  const log = logger.child({ module: `queue-${queue}` });
  const connection = createRedis(config.redis, { name: `herald-worker-${queue}`, maxRetriesPerRequest: null });
  connection.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const worker = new Worker<D, R>(queue, processor, {
    connection,
    prefix: Keys.of(config).queuePrefix(),
    concurrency: options.concurrency,
    // A job whose worker died (SIGKILL, host lost) is taken over once its lock lapses.
    lockDuration: config.jobLockMs,
    stalledInterval: config.jobLockMs,
    // Defaults for jobs enqueued without their own bounds: Redis must not fill up with old jobs.
    removeOnComplete: RETENTION.removeOnComplete,
    removeOnFail: RETENTION.removeOnFail,
    // buildWorker returns an unstarted service (STYLE.md 7): jobs are taken from start() on.
    autorun: false,
  });
  // Without a listener an 'error' event would throw; BullMQ reconnects by itself.
  worker.on('error', (err: Error) => log.warn({ err: err.message }, 'worker error'));
  let running: Promise<void> | undefined;
  return {
    bull: worker,
    async start() {
      await worker.waitUntilReady();
      running = worker.run().catch((err: unknown) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'worker stopped'));
    },
    async close() {
      // BullMQ's close() (not forced) lets the running jobs finish and record their result first.
      await worker.close();
      await running;
      await closeRedis(connection);
    },
  };
}
