import { createMetricsServer, metrics } from '@herald/metrics';
import { runService } from '@herald/runtime';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app';

void runService('logic', (config, logger) => {
  const app = buildApp(config, logger);
  // In pm2 cluster mode the REST port is shared: each process also serves /metrics on a port of its
  // own when HERALD_LOGIC_METRICS_PORT is set (docs/metrics.md, "pm2 cluster").
  const metricsServer = config.logicMetricsPort === null ? undefined : createMetricsServer(metrics);
  return {
    async start() {
      // A burst of pushes waits in the accept queue while the loop is busy: ask for more than
      // Node's 511 (the kernel caps it at net.core.somaxconn, docs/deploy.md).
      await app.listen({ port: config.logicPort, host: config.bind, backlog: 8192 });
      const port = (app.server.address() as AddressInfo).port;
      logger.info({ port, bind: config.bind }, 'listening');
      if (metricsServer) {
        metricsServer.listen(config.logicMetricsPort ?? 0, config.bind);
        await once(metricsServer, 'listening');
        logger.info({ metricsPort: (metricsServer.address() as AddressInfo).port }, 'metrics listening');
      }
      return port;
    },
    // Stops accepting, lets in-flight requests finish, then closes Redis and the queue (onClose).
    async close() {
      if (metricsServer?.listening) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      await app.close();
    },
  };
});
