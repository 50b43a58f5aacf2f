/** Herald's BullMQ queues (DESIGN.md, worker). */
export const QUEUES = Object.freeze({
  /** Delayed step after a push with `leaveMessage`: inbox entries and APNs jobs for clients that did not ack. */
  offline: 'offline',
  /** One APNs delivery batch. */
  apns: 'apns',
  /** Report updates applied off the socket path. */
  reports: 'reports',
  /** Outgoing HTTP callbacks (disconnect callbacks and later webhooks). */
  webhooks: 'webhooks',
});

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
