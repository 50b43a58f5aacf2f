import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Field paths that may hold a secret anywhere Herald logs an object: passwords, Basic headers,
 * APNs keys and certificates, device tokens. pino replaces their values before the line is written.
 */
export const REDACTED_PATHS = [
  'password',
  'auth_passwd',
  'adminPassword',
  'authorization',
  'callback_auth',
  'device_token',
  'token_key',
  'apns_dev_key',
  'apns_production_key',
  'apns_dev_cert',
  'apns_production_cert',
  'cookie',
  '*.password',
  '*.auth_passwd',
  '*.adminPassword',
  '*.authorization',
  '*.callback_auth',
  '*.device_token',
  '*.token_key',
  '*.apns_dev_key',
  '*.apns_production_key',
  '*.apns_dev_cert',
  '*.apns_production_cert',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

/**
 * The root logger of a service: JSON lines on stdout (pm2 collects them), the service name on
 * every line, secrets redacted. Modules take a child: `root.child({ module: 'rooms' })`.
 */
export function createLogger(service: string, level: string, options: LoggerOptions = {}): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  });
}
