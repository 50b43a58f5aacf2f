import type { WorkerConfig } from '@herald/config';
import type { Logger } from '@herald/log';
import { createMetricsServer, metrics, metricsOptions } from '@herald/metrics';
import type { Service } from '@herald/runtime';
import { describeRedisTarget } from '@herald/config';
import { ApnsQueue, OfflineQueue, QUEUES, WebhookQueue, type ApnsJob, type OfflineJob, type WebhookJob, type WebhookResult } from '@herald/queues';
import { closeRedis, createRedis, InboxStore, Keys, MessageStore, MessageTimeline, NamespaceStore, RoomMembers, Scripts } from '@herald/store';
import type { Worker } from 'bullmq';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ApnsProcessor, type ApnsResult } from './apns/apns-processor';
import type { ApnsSenderFactory } from './apns/apns-sender';
import { createNodeApnSender } from './apns/node-apn-sender';
import { OfflineProcessor, type OfflineResult } from './offline/offline-processor';
import { createQueueWorker, type QueueWorker } from './queue-worker';
import { WEBHOOK_DEFAULTS, WebhookProcessor, type WebhookProcessorOptions } from './webhooks/webhook-processor';

/** What a caller (tests, a custom topology) may tune beyond the environment. */
export interface BuildWorkerOptions {
  /** The `webhooks` queue's processor. */
  readonly webhooks?: WebhookProcessorOptions;
  /** How APNs connections are made (tests may swap the driver). @default node-apn */
  readonly apnsSender?: ApnsSenderFactory;
}

/**
 * Builds the unstarted worker role: the host of Herald's BullMQ workers (offline, apns, reports,
 * webhooks). Each queue's processor is a `QueueWorker`, its BullMQ worker listed in `processors`.
 * Queues without a processor yet keep their jobs waiting in Redis (nothing is consumed and dropped).
 */
export function buildWorker(
  config: WorkerConfig,
  logger: Logger,
  options: BuildWorkerOptions = {},
): Service & { readonly processors: Worker[] } {
  // BullMQ workers block on Redis and must wait through outages: no per-command retry limit. This
  // connection serves the processors' own reads and writes; each BullMQ worker has its own.
  const redis = createRedis(config.redis, { name: 'herald-worker', maxRetriesPerRequest: null });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  const keys = Keys.of(config);
  metrics.configure(metricsOptions('worker', config));

  const webhookOptions = { ...WEBHOOK_DEFAULTS, ...options.webhooks };
  const webhooks = new WebhookProcessor({
    namespaces: new NamespaceStore(redis, keys),
    redis,
    keyPrefix: config.redisPrefix,
    logger,
    timeoutMs: webhookOptions.timeoutMs,
    allowPrivate: config.callbackAllowPrivate,
  });
  const scripts = new Scripts(redis);
  const apns = new ApnsQueue(redis, keys.queuePrefix());
  const timeline = new MessageTimeline(redis, keys, scripts, config.timelineMaxEntries);
  const offline = new OfflineProcessor({
    redis,
    keys,
    messages: new MessageStore(redis, keys, scripts),
    timeline,
    members: new RoomMembers(redis, keys),
    inbox: new InboxStore(redis, keys, scripts),
    apns,
    logger: logger.child({ module: 'offline' }),
  });
  const apnsProcessor = new ApnsProcessor({
    redis,
    keys,
    scripts,
    messages: new MessageStore(redis, keys, scripts),
    timeline,
    namespaces: new NamespaceStore(redis, keys),
    endpoint: { host: config.apnsHost, port: config.apnsPort, caFile: config.apnsCa },
    createSender: options.apnsSender ?? createNodeApnSender,
    defaultAlert: config.apnsDefaultAlert,
    logger: logger.child({ module: 'apns' }),
  });
  // Queue depth for /metrics, read at scrape time; the worker's own HTTP listener serves it.
  const depthQueues = [new OfflineQueue(redis, keys.queuePrefix()), new WebhookQueue(redis, keys.queuePrefix())];
  metrics.watchQueues([apns.bull, ...depthQueues.map((q) => q.bull)]);
  const http = createMetricsServer(metrics);
  const queueWorkers: QueueWorker[] = [
    createQueueWorker<ApnsJob, ApnsResult>(QUEUES.apns, apnsProcessor.process, config, logger, { concurrency: config.apnsConcurrency }),
    createQueueWorker<OfflineJob, OfflineResult>(QUEUES.offline, offline.process, config, logger, { concurrency: 8 }),
    createQueueWorker<WebhookJob, WebhookResult>(QUEUES.webhooks, webhooks.process, config, logger, {
      concurrency: webhookOptions.concurrency,
    }),
  ];

  return {
    processors: queueWorkers.map((q) => q.bull),
    async start() {
      await redis.ping();
      await apns.bull.waitUntilReady();
      await Promise.all(queueWorkers.map((q) => q.start()));
      logger.info({ redis: describeRedisTarget(config.redis), queues: queueWorkers.map((q) => q.bull.name) }, 'connected');
      http.listen(config.workerPort, config.bind);
      await once(http, 'listening');
      const port = (http.address() as AddressInfo).port;
      logger.info({ port, bind: config.bind }, 'listening');
      return port;
    },
    async close() {
      if (http.listening) await new Promise<void>((resolve) => http.close(() => resolve()));
      // Let running jobs finish (BullMQ `close()` waits for them) before the shared connection goes.
      await Promise.all(queueWorkers.map((q) => q.close()));
      await apnsProcessor.close();
      await apns.close();
      await Promise.all(depthQueues.map((q) => q.close()));
      await closeRedis(redis);
    },
  };
}
