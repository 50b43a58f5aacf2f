import { Queue, type ConnectionOptions } from 'bullmq';
import { apnsJobId, offlineJobId, type ApnsJob, type OfflineJob } from './jobs';
import { QUEUES } from './queue-names';

/**
 * Default retention: completed jobs are dropped quickly (the report keeps what matters), failed jobs
 * are kept for a day so an operator can inspect them.
 */
export const RETENTION = Object.freeze({
  removeOnComplete: { count: 1000, age: 3600 },
  removeOnFail: { count: 10000, age: 24 * 3600 },
});

/** The producer side of the `offline` queue (logic). */
export class OfflineQueue {
  private readonly queue: Queue<OfflineJob>;

  constructor(connection: ConnectionOptions, prefix: string) {
    this.queue = new Queue<OfflineJob>(QUEUES.offline, { connection, prefix });
  }

  /** Schedules the offline step of a message `delayMs` after now. */
  async schedule(job: OfflineJob, delayMs: number): Promise<void> {
    await this.queue.add('offline', job, {
      jobId: offlineJobId(job.namespace, job.id),
      delay: delayMs,
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
      ...RETENTION,
    });
  }

  /** The underlying BullMQ queue, for inspection (tests, admin). */
  get bull(): Queue<OfflineJob> {
    return this.queue;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** The producer side of the `apns` queue (the offline step). */
export class ApnsQueue {
  private readonly queue: Queue<ApnsJob>;

  constructor(
    connection: ConnectionOptions,
    prefix: string,
    private readonly retry: { attempts: number; backoffMs: number } = { attempts: 8, backoffMs: 1000 },
  ) {
    this.queue = new Queue<ApnsJob>(QUEUES.apns, { connection, prefix });
  }

  /** Adds one batch job per `batches` entry, in one round trip. */
  async enqueue(namespace: string, id: number, batches: readonly (readonly string[])[], firstBatch: number): Promise<void> {
    if (batches.length === 0) return;
    await this.queue.addBulk(
      batches.map((clientIds, i) => ({
        name: 'apns',
        data: { namespace, id, clientIds },
        opts: {
          jobId: apnsJobId(namespace, id, firstBatch + i),
          attempts: this.retry.attempts,
          backoff: { type: 'exponential', delay: this.retry.backoffMs, jitter: 0.5 },
          ...RETENTION,
        },
      })),
    );
  }

  get bull(): Queue<ApnsJob> {
    return this.queue;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
