export { buildWorker, type BuildWorkerOptions } from './worker';
export { WebhookProcessor, type WebhookProcessorOptions } from './webhooks/webhook-processor';
