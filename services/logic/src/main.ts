import { runService } from '@herald/runtime';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app';

void runService('logic', (config, logger) => {
  const app = buildApp(config, logger);
  return {
    async start() {
      await app.listen({ port: config.logicPort, host: config.bind });
      const port = (app.server.address() as AddressInfo).port;
      logger.info({ port, bind: config.bind }, 'listening');
      return port;
    },
    // Stops accepting, lets in-flight requests finish, then closes Redis and the queue (onClose).
    close: () => app.close(),
  };
});
