import cluster from 'node:cluster';
import { ConfigError, loadConfig, type ConfigByRole, type Role } from '@herald/config';
import { createLogger, type Logger } from '@herald/log';

/** What a service's `build` returns: started by `start`, stopped gracefully by `close`. */
export interface Service {
  /** Starts listening / consuming; resolves with the port listened on, if any. */
  start(): Promise<number | undefined>;
  /** Stops accepting, finishes in-flight work, closes Redis. Must let the process exit by itself. */
  close(): Promise<void>;
}

/**
 * The `main` of every role: read and check the config (a wrong value exits 1 naming the variable),
 * build, start, tell pm2 it is ready (`wait_ready`), and on SIGTERM or SIGINT close gracefully so
 * the event loop empties and the process exits 0 on its own — no `process.exit` on the happy path.
 */
export async function runService<R extends Role>(
  role: R,
  build: (config: ConfigByRole[R], logger: Logger) => Service,
): Promise<void> {
  let config: ConfigByRole[R];
  try {
    config = loadConfig(role, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`herald-${role}: invalid configuration: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  const logger = createLogger(role, config.logLevel);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  const service = build(config, logger);
  let starting: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    // A signal during start-up waits for the start to settle, so nothing starts listening after
    // the close.
    starting
      .catch(() => undefined)
      .then(() => service.close())
      .then(
        () => {
          logger.info('stopped');
          // A pm2 cluster-mode worker (logic) keeps its IPC channel to the master open: leave it,
          // or the event loop never empties.
          if (cluster.isWorker) cluster.worker?.disconnect();
        },
        (error: unknown) => {
          logger.error({ err: error }, 'error while stopping');
          process.exitCode = 1;
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    const started = service.start();
    starting = started;
    const port = await started;
    if (stopping) return;
    logger.info({ port }, 'ready');
    // pm2 `wait_ready`: the process is up only once it listens.
    process.send?.('ready');
  } catch (error) {
    if (stopping) return;
    logger.fatal({ err: error }, 'failed to start');
    process.exitCode = 1;
    await service.close().catch(() => undefined);
  }
}
