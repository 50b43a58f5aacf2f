import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

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

/** Where a {@link requestLogger} keeps its bindings. */
const REQUEST_BINDINGS = Symbol('herald.requestBindings');

type WithRequestBindings = Logger & { [REQUEST_BINDINGS]?: Readonly<Record<string, unknown>> };

/**
 * The root logger of a service: JSON lines on stdout (pm2 collects them), the service name on
 * every line, secrets redacted. Modules take a child: `root.child({ module: 'rooms' })`.
 * `destination` replaces stdout (tests).
 */
export function createLogger(service: string, level: string, options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    level,
    base: { service, pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // The bindings of a requestLogger, on each line it writes (a copy: pino merges into it).
    mixin: (_object, _level, logger) => {
      const bindings = (logger as WithRequestBindings)[REQUEST_BINDINGS];
      return bindings ? { ...bindings } : {};
    },
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/**
 * A logger for one HTTP request (fastify's `childLoggerFactory`, `{reqId}` on every line it
 * writes) or one socket (`{clientId}`). Not `logger.child(bindings)`: pino stringifies a child's
 * bindings when it is made, through the redaction of every `*.` path (6 µs, measured), and keeps
 * the string, for each request or connection even when it logs nothing. This one costs an object;
 * the bindings are added, and redacted, only on a line written.
 */
export function requestLogger(logger: Logger, bindings: Readonly<Record<string, unknown>>): Logger {
  const child = Object.create(logger) as WithRequestBindings;
  child[REQUEST_BINDINGS] = bindings;
  return child;
}
