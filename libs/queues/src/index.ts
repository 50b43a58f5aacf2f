export * from './queue-names';
export * from './jobs';
export * from './queues';
export * from './webhooks';
