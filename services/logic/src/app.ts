import type { LogicConfig } from '@herald/config';
import { requestLogger, type Logger } from '@herald/log';
import { metrics, metricsOptions } from '@herald/metrics';
import { ConnectorBus, PushService } from '@herald/publish';
import { OfflineQueue, WebhookQueue } from '@herald/queues';
import {
  ChatStore,
  ClientStore,
  Keys,
  MessageStore,
  MessageTimeline,
  CachedNamespaceStore,
  OnlineReport,
  RoomMembers,
  Scripts,
  checkClusterVersion,
  closeRedis,
  createRedis,
  type ConnectionOptions,
  type NamespaceSettings,
  type RedisClient,
} from '@herald/store';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { AuthFailures, NamespaceAuth, authenticateAdmin } from './plugins/auth';
import { corsPlugin } from './plugins/cors';
import { clientErrorHandler, errorsPlugin, frameworkErrors } from './plugins/errors';
import { openApiPlugin } from './plugins/openapi';
import { validationPlugin } from './plugins/validation';
import { adminNamespaceRoutes } from './routes/admin-namespace';
import { authNamespaceRoutes } from './routes/auth-namespace';
import { pushRoutes } from './routes/push';
import { clientRoutes } from './routes/clients';
import { adminReportRoutes, reportRoutes } from './routes/report';
import { Empty, answers } from './routes/responses';
import { roomRoutes } from './routes/rooms';
import { consoleRoutes } from './console-assets';
import { adminMessageRoutes } from './routes/admin-messages';
import { adminOnlineRoutes } from './routes/admin-online';
import { adminWebhookRoutes } from './routes/admin-webhooks';
import { sessionsAdminRoutes } from './routes/sessions/admin-connections';
import { Type } from '@sinclair/typebox';
import { webserviceRoutes } from './routes/webservice/send';
import { roomsyncRoutes } from './routes/roomsync/routes';
import { chatRoutes } from './routes/chat/device';

declare module 'fastify' {
  interface FastifyRequest {
    /** The namespace whose credentials authenticated this `/api/auth/*` request. */
    namespace?: NamespaceSettings;
  }
  interface FastifyContextConfig {
    /**
     * The route checks the failed-authentication limit itself, in the Redis call it makes anyway
     * (the push routes); the auth hook then checks it only before scrypt or a refusal.
     */
    authFailuresInRoute?: boolean;
  }
}

/** Largest JSON body accepted (nginx's `client_max_body_size` in deploy/ matches it). */
export const BODY_LIMIT = 256 * 1024;

/**
 * Builds the unstarted REST app with its Redis connection and queues; `listen` is main's job.
 * `close()` on the returned app also closes Redis and the queue.
 */
export function buildApp(config: LogicConfig, logger: Logger): FastifyInstance {
  const keys = Keys.of(config);
  metrics.configure(metricsOptions('logic', config));
  const connections: RedisClient[] = [];
  /** `name` shows in Redis' CLIENT LIST. */
  const connect = (name: string, options: Omit<ConnectionOptions, 'name'> = {}): RedisClient => {
    const client = createRedis(config.redis, { name, ...options });
    client.on('error', (err: Error) => logger.warn({ err: err.message, connection: name }, 'redis connection error'));
    connections.push(client);
    return client;
  };
  // The request path pipelines automatically: a push is several round trips, and thousands of
  // pushes a second would otherwise be one write syscall per command (docs/benchmarks.md, profile
  // of S3). BullMQ keeps a plain connection of its own, as its docs assume. Every authenticated
  // request reads its namespace's settings from memory (CachedNamespaceStore), kept coherent by the
  // namespace channel, which needs a subscriber connection of its own.
  // At most once: a push script whose reply was lost with the connection must not run again
  // (HERALD_REDIS_COMMAND_TIMEOUT_MS); the caller gets a 503 and may retry with its Idempotency-Key.
  const redis = connect('herald-logic', { autoPipelining: true, atMostOnceTimeoutMs: config.redisCommandTimeoutMs });
  const queueConnection = connect('herald-logic-queue');
  const offline = new OfflineQueue(queueConnection, keys.queuePrefix());
  // The console's dead-letter replay; a BullMQ queue may share a connection (it never blocks).
  const webhooks = new WebhookQueue(queueConnection, keys.queuePrefix());
  const namespaceWatch = connect('herald-logic-watch', { maxRetriesPerRequest: null });
  const namespaces = new CachedNamespaceStore(redis, keys, namespaceWatch);
  const scripts = new Scripts(redis);
  const messages = new MessageStore(redis, keys, scripts);
  const clients = new ClientStore(redis, keys, scripts);
  const members = new RoomMembers(redis, keys);
  const online = new OnlineReport(redis, keys);
  const timeline = new MessageTimeline(redis, keys, scripts);
  const bus = new ConnectorBus(redis, keys, logger.child({ module: 'bus' }));
  const push = new PushService(redis, keys, bus, offline, { offlineDelayMs: config.offlineDelayMs }, logger.child({ module: 'push' }));
  const namespaceAuth = new NamespaceAuth(namespaces);
  const failures = new AuthFailures(redis, keys);

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    // One debug line per request from the onResponse hook below instead of two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    // `{reqId}` added on the lines a request writes, not stringified for every request (pino's
    // child did that through the redaction of every path: 5 % of logic's time in S3).
    childLoggerFactory: (logger, bindings) => requestLogger(logger as Logger, bindings) as FastifyBaseLogger,
    // Behind nginx the client address is in X-Forwarded-For (deploy/nginx/herald.conf); only the
    // listed proxies may say so (HERALD_TRUSTED_PROXIES).
    trustProxy: [...config.trustedProxies],
    // A clientId is up to 400 characters and `#`, `/` and `\\` triple in its URL encoding
    // (`GET /api/auth/client/:id`); find-my-way's default of 100 refused long valid ones.
    routerOptions: { maxParamLength: 2048 },
    // Every refusal is a catalogue `{code, msg}`, also those made before a route is found.
    frameworkErrors,
    clientErrorHandler,
  });
  // JSON only: a text body is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');
  errorsPlugin(app);
  validationPlugin(app);
  corsPlugin(app);
  openApiPlugin(app);

  // Graceful close: a request in flight when close() begins still gets its answer, but then its
  // connection must close. server.close() waits for every connection, fastify reaps only those idle
  // at that instant, and a keep-alive client (keepAliveTimeout 72 s) would hold the process past
  // pm2's kill_timeout (found by tests/shutdown.test.ts).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  // The level is fixed at start: at `info` no request pays for a hook that writes nothing.
  if (logger.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.debug({ method: request.method, url: request.routeOptions.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    });
  }

  void app.register(async (root) => {
    root.get(
      '/health',
      { schema: { tags: ['meta'], summary: 'Liveness: answers `hello`', response: { 200: Type.String({ examples: ['hello'] }) } } },
      async (_request, reply) => reply.type('text/plain').send('hello'),
    );
    // Prometheus (docs/metrics.md); HERALD_METRICS_AUTH decides who may read it.
    root.get(
      '/metrics',
      { schema: { tags: ['meta'], summary: 'Prometheus metrics of this process (text exposition format)', response: answers(Type.String()) } },
      async (request, reply) => {
        const answer = await metrics.scrape(request.headers.authorization);
        return reply.status(answer.status).headers(answer.headers).send(answer.body);
      },
    );
  });

  void app.register(async (auth) => {
    auth.decorateRequest('namespace', undefined);
    // Each route's authentication hook knows its `authFailuresInRoute` from when it was declared
    // (`request.routeOptions` builds a new object on every read).
    auth.addHook('onRoute', (route) => {
      const inRoute = route.config?.authFailuresInRoute === true;
      const authenticate = async (request: FastifyRequest): Promise<void> => {
        request.namespace = await failures.guard(request.ip, (beforeSlowPath) => namespaceAuth.authenticate(request, beforeSlowPath), inRoute);
      };
      route.onRequest = [authenticate, ...[route.onRequest ?? []].flat()];
    });
    auth.post(
      '/api/auth/login',
      { schema: { tags: ['namespaces'], security: [{ namespace: [] }], summary: 'Check the namespace credentials', response: answers(Empty) } },
      async () => ({}),
    );
    const allowPrivateCallbacks = config.callbackAllowPrivate;
    const context = {
      app: auth,
      push,
      bus,
      messages,
      namespaces,
      clients,
      members,
      online,
      allowPrivateCallbacks,
      failures,
      pushLimits: { idempotencyTtlS: config.idempotencyTtlS, batchMax: config.pushBatchMax },
    };
    pushRoutes(context);
    reportRoutes(context);
    roomRoutes(context);
    clientRoutes(context);
    authNamespaceRoutes(context);
    chatRoutes({ app: auth, chat: new ChatStore(redis, keys) });
  });

  void app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => failures.guard(request.ip, () => authenticateAdmin(request, config.adminName, config.adminPassword)));
    adminNamespaceRoutes({ app: admin, namespaces, online, redis, keys, legacyClientHours: config.legacyClientHours, allowPrivateCallbacks: config.callbackAllowPrivate });
    adminReportRoutes({ app: admin, namespaces, online });
    adminMessageRoutes({ app: admin, namespaces, push, messages, timeline });
    adminOnlineRoutes({ app: admin, namespaces, online });
    adminWebhookRoutes({ app: admin, redis, keyPrefix: config.redisPrefix, webhooks });
    sessionsAdminRoutes({ app: admin, namespaces, redis, keys });
  });

  // The admin console's files are public; every call it makes is an /api/admin/* route.
  consoleRoutes(app);

  // Seed 001's `/send` and `/healthcheck`, with their plain-text answers (routes/webservice/).
  void app.register(async (webservice) => {
    webserviceRoutes({ app: webservice, namespaces, push, bus, redis, keys, failures, logger: logger.child({ module: 'webservice' }) });
  });
  // Seed 000's token and admin API for roomsync namespaces, with the seed's envelope (routes/roomsync/).
  roomsyncRoutes({ app, redis, keys, namespaces, push, failures, logger });

  // Ready means Redis answers: pm2's wait_ready and the tests rely on it, and closing a
  // connection that is still connecting lingers in ioredis.
  app.addHook('onReady', async () => {
    await Promise.all(connections.map((client) => client.ping()));
    await checkClusterVersion(redis);
    await namespaces.start();
    await offline.bull.waitUntilReady();
  });
  app.addHook('onClose', async () => {
    await offline.close();
    await webhooks.close();
    await Promise.all(connections.map((client) => closeRedis(client)));
  });
  return app;
}
