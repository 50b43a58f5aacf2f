import { Queue, type ConnectionOptions } from 'bullmq';
import type { OfflineJob } from './jobs';
import { offlineJobId } from './jobs';
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
