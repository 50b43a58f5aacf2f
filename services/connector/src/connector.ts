import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { ConnectorConfig } from '@herald/config';
import { requestLogger, type Logger } from '@herald/log';
import { metrics, metricsOptions, serveMetrics } from '@herald/metrics';
import { DEFAULT_PROTOCOL, userRoom } from '@herald/wire';
import { ConnectorBus, PushService, storedEnvelope } from '@herald/publish';
import { OfflineQueue, WebhookQueue } from '@herald/queues';
import type { Service } from '@herald/runtime';
import {
  CachedNamespaceStore,
  ClientStore,
  ConnectorRegistry,
  DEFAULT_MAX_CLIENT_ROOMS,
  InboxStore,
  Keys,
  MessageStore,
  NamespaceStore,
  RoomStore,
  Scripts,
  checkClusterVersion,
  closeRedis,
  createRedis,
  type ConnectionOptions,
  type RedisClient,
} from '@herald/store';
import { Server } from 'socket.io';
import { Acks } from './core/acks';
import { deliver } from './core/delivery';
import { Eviction } from './core/eviction';
import { HandshakeGate } from './core/handshake';
import { Identification } from './core/identify';
import { IntakeValve } from './core/intake';
import { PingBeat } from './core/ping-beat';
import { Liveness } from './core/liveness';
import { NamespaceWatch } from './core/namespace-watch';
import { ReportBatcher } from './core/report-batcher';
import type { CoreServices } from './core/protocol';
import { Rooms } from './core/rooms';
import { connectEio3To, mappedParser } from './core/socket-paths';
import { SubscriberCatchUp } from './core/subscriber-catch-up';
import { transferSockets } from './core/transfer';
import { clientRoom, type HeraldNamespace, type HeraldServer, type HeraldSocket } from './core/socket-data';
import { ALL_PROTOCOLS, defaultRegistry } from './protocols/registry';

/** The connector's listen backlog (capped by the kernel at net.core.somaxconn). */
const LISTEN_BACKLOG = 8192;

/** `/health` answers `hello` (seed HEAD); everything else that is not socket.io is 404. */
function plainHttp(req: IncomingMessage, res: ServerResponse): void {
  if (serveMetrics(metrics, req, res)) return;
  if (req.method === 'GET' && (req.url === '/health' || req.url?.startsWith('/health?'))) {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"ROUTE_NOT_FOUND","msg":"route not found"}');
}

/**
 * The socket.io Redis adapter for the target. A single Redis: the classic adapter (PUBLISH /
 * PSUBSCRIBE). A Redis Cluster: the sharded adapter (Redis >= 7 SPUBLISH / SSUBSCRIBE, ioredis
 * `shardedSubscribers` on `sub`), since classic pub/sub on a cluster copies every message to every
 * node. `static` subscription mode: two channels per namespace, not one per room — Herald's pushes
 * reach connectors through `serverSideEmit` on the namespace channel anyway, and per-room channels
 * would mean one SSUBSCRIBE per connecting client (its `c:<clientId>` room) (docs/redis-cluster.md).
 */
function adapterFor(target: ConnectorConfig['redis'], pub: RedisClient, sub: RedisClient, keys: Keys) {
  if (target.kind === 'cluster') return createShardedAdapter(pub, sub, { channelPrefix: keys.socketIoChannel(), subscriptionMode: 'static' });
  return createAdapter(pub, sub, { key: keys.socketIoChannel(), requestsTimeout: 3000 });
}

export interface Connector extends Service {
  readonly io: HeraldServer;
  readonly id: string;
  readonly liveness: Liveness;
}

/**
 * Builds an unstarted connector: the socket.io server with the Redis adapter, the handshake gate,
 * the protocols (protocols/registry.ts) on the neutral core, presence, the report batcher, the
 * heartbeat and the namespace watch. Only `start` listens.
 */
export function buildConnector(config: ConnectorConfig, logger: Logger): Connector {
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  metrics.configure(metricsOptions('connector', config));
  const keys = Keys.of(config);
  const connections: [RedisClient, string][] = [];
  const connect = (purpose: string, options: Omit<ConnectionOptions, 'name'> = {}): RedisClient => {
    const client = createRedis(config.redis, { name: `herald-connector-${purpose}`, ...options });
    client.on('error', (err: Error) => logger.warn({ err: err.message, connection: purpose }, 'redis connection error'));
    connections.push([client, purpose]);
    return client;
  };
  const redis = connect('main');
  // The adapter needs its own connections: one subscribes (and can do nothing else), one publishes.
  const pub = connect('pub', { maxRetriesPerRequest: null });
  const watchSub = connect('watch', { maxRetriesPerRequest: null });
  // The push script stores a new message each time it runs: a client push (and a chat message)
  // whose reply was lost with the connection must not run again after the reconnect, which `main`
  // would do (its room, client and report scripts are idempotent, and keep ioredis' resending). The
  // sender gets STORE_UNAVAILABLE after HERALD_REDIS_COMMAND_TIMEOUT_MS instead (docs/decisions.md,
  // "Replies lost with the connection to Redis").
  const pushRedis = connect('push', { atMostOnceTimeoutMs: config.redisCommandTimeoutMs });

  const scripts = new Scripts(redis);
  const roomStore = new RoomStore(redis, keys, scripts);
  const clients = new ClientStore(redis, keys, scripts);
  const namespaces = new NamespaceStore(redis, keys);
  // The handshake path (the gate's namespace check and protocol choice, max_client_rooms on every
  // room join, the protocol of a reaped client) reads settings from memory, kept coherent by the
  // namespace channel on the watch's subscriber connection (both only SUBSCRIBE to that one channel
  // and filter 'message' by it). What a socket does once admitted (client push, chat send, roomsync
  // authentication, the watch's own re-read) reads `namespaces`, fresh: those must see a switch made
  // behind the notice's back, or before it arrives (docs/decisions.md, "Namespace settings from memory").
  const settings = new CachedNamespaceStore(redis, keys, watchSub);
  const inbox = new InboxStore(redis, keys, scripts);
  // Backpressure: above its bound the report path stops the reading of sockets (intake.ts).
  let intake: IntakeValve | undefined;
  const reports = new ReportBatcher(scripts, keys, inbox, logger.child({ module: 'reports' }), {
    maxPending: config.reportMaxPending,
    pressure: (high) => intake?.set(high),
    connectorId: id,
    timelineMaxEntries: config.timelineMaxEntries,
  });
  const rooms = new Rooms(
    roomStore,
    clients,
    {
      activityBroadcast: config.roomActivityBroadcast,
      connectorId: id,
      maxClientRooms: async (namespace) => (await settings.settings(namespace))?.maxClientRooms ?? DEFAULT_MAX_CLIENT_ROOMS,
    },
    logger.child({ module: 'rooms' }),
  );
  const acks = new Acks(reports);
  const offline = new OfflineQueue(redis, keys.queuePrefix());
  const webhooks = new WebhookQueue(redis, keys.queuePrefix());
  const bus = new ConnectorBus(redis, keys, logger.child({ module: 'bus' }));
  const push = new PushService(pushRedis, keys, bus, offline, { offlineDelayMs: config.offlineDelayMs }, logger.child({ module: 'push' }));

  const httpServer = createServer(plainHttp);
  const allowed = config.allowedOrigins;
  /**
   * One socket.io server per path (HERALD_SOCKET_PATHS) on the one HTTP server. Each has its own
   * adapter subscription, so the adapter's count of subscribers (which request/response calls such
   * as eviction wait for) is one per server that holds a namespace; a mapped path's parser swaps
   * `/` and its namespace (core/socket-paths.ts).
   */
  const subs: RedisClient[] = [];
  const servers: HeraldServer[] = config.socketPaths.map((entry, i) => {
    const sub = connect(i === 0 ? 'sub' : `sub${entry.path}`, { maxRetriesPerRequest: null, shardedSubscribers: true });
    subs.push(sub);
    const server: HeraldServer = new Server({
      path: entry.path,
      adapter: adapterFor(config.redis, pub, sub, keys),
      allowEIO3: config.allowEio3,
      maxHttpBufferSize: config.maxPayloadBytes,
      pingInterval: config.pingIntervalMs,
      pingTimeout: config.pingTimeoutMs,
      cleanupEmptyChildNamespaces: true,
      ...(entry.namespace !== undefined && { parser: mappedParser(entry.namespace) }),
      // Sockets of a browser page carry an Origin; native apps send none and are not affected.
      allowRequest: (req, callback) => {
        const origin = req.headers.origin;
        callback(null, !allowed || origin === undefined || allowed.includes(origin));
      },
    });
    if (entry.namespace !== undefined) connectEio3To(server, entry.namespace);
    server.attach(httpServer);
    return server;
  });
  const io = servers[0]!;

  intake = new IntakeValve(servers, { pingIntervalMs: config.pingIntervalMs, pingTimeoutMs: config.pingTimeoutMs });
  // v4 clients are pinged on a beat, not only after their last pong was read (ping-beat.ts).
  const pingBeat = new PingBeat(servers, config.pingIntervalMs);

  const pending = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    pending.add(work);
    void work.finally(() => pending.delete(work)).catch(() => undefined);
    return work;
  };
  // Room changes of one socket run in order, and its disconnect clean-up runs after them, so a
  // late join can never mark a gone client online again.
  const queues = new WeakMap<HeraldSocket, Promise<void>>();
  const serial = (socket: HeraldSocket, work: () => Promise<void>): Promise<void> => {
    const next = (queues.get(socket) ?? Promise.resolve()).catch(() => undefined).then(work);
    queues.set(socket, next);
    return track(next);
  };
  const settled = (socket: HeraldSocket): Promise<void> => (queues.get(socket) ?? Promise.resolve()).catch(() => undefined);

  const eviction = new Eviction(settled, clients, id, logger.child({ module: 'eviction' }), (nsp) =>
    servers.flatMap((server) => {
      const sibling = server._nsps.get(nsp.name);
      return sibling ? [sibling] : [];
    }),
  );
  const registry = defaultRegistry(config.protocols);
  const gate = new HandshakeGate(
    registry,
    settings,
    eviction,
    { duplicateClient: config.duplicateClient, callbackTimeoutMs: config.callbackTimeoutMs, callbackAllowPrivate: config.callbackAllowPrivate },
    logger.child({ module: 'handshake' }),
  );
  // Reaped while alive (its loop stalled past the threshold): its clients were marked offline while
  // still connected here. Dropping them makes them reconnect and register again.
  const dropAll = (): void => {
    for (const server of servers) {
      for (const nsp of server._nsps.values()) {
        for (const socket of nsp.sockets.values()) {
          socket.data.disconnectReason = 'connector lost';
          // A transport close, not a disconnect packet: socket.io clients reconnect by themselves.
          socket.conn.close();
        }
      }
    }
  };
  const liveness = new Liveness(
    id,
    new ConnectorRegistry(redis, keys),
    clients,
    roomStore,
    config.heartbeatMs,
    logger.child({ module: 'liveness' }),
    dropAll,
    // The clean-ups are Redis work any connector can do: the dead connector may have served a
    // protocol this one does not (HERALD_PROTOCOLS), so they come from every protocol Herald has.
    async (client) => {
      const name = (await settings.settings(client.namespace))?.protocol ?? DEFAULT_PROTOCOL;
      const protocol = ALL_PROTOCOLS.find((p) => p.name === name);
      if (protocol?.reaped) await protocol.reaped(client, core);
    },
    async (connectorId) => {
      for (const protocol of ALL_PROTOCOLS) if (protocol.connectorReaped) await protocol.connectorReaped(connectorId, core);
    },
  );
  // Pushes published while a server's adapter subscriber was away are re-delivered from the
  // history when it is back (core/subscriber-catch-up.ts); every delivery goes through it.
  const messages = new MessageStore(redis, keys, scripts);
  const catchUps = servers.map(
    (server, i) =>
      new SubscriberCatchUp(
        server,
        subs[i]!,
        {
          history: (namespace, page, size) => messages.history(namespace, page, size),
          envelope: storedEnvelope,
          deliver: (nsp, envelope) => {
            // No protocol yet: no socket of the namespace was admitted here, nobody to deliver to.
            const protocol = gate.protocolOf(nsp);
            return protocol ? deliver(nsp, envelope, protocol, reports, acks) : 0;
          },
        },
        logger.child({ module: 'catch-up', path: config.socketPaths[i]!.path }),
      ),
  );
  const watches = servers.map(
    (server) => new NamespaceWatch(server, watchSub, keys.namespaceChannel(), namespaces, config.namespaceOfflineDelayMs, logger.child({ module: 'namespaces' })),
  );

  let boundPort = 0;
  let closing = false;

  /**
   * The namespace's disconnect callback (seed: POST {query} with cookie, authorization, namespace)
   * goes through the `webhooks` queue: the worker sends it with retries, the connector never waits
   * on a third-party server.
   */
  const notifyDisconnect = async (socket: HeraldSocket): Promise<void> => {
    const { namespace, clientId } = socket.data.identity;
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(socket.handshake.query)) if (value !== undefined) query[key] = value;
    const cookie = socket.handshake.headers.cookie;
    await webhooks.enqueueDisconnect({ kind: 'disconnect', namespace, clientId, query, ...(cookie ? { cookie } : {}), at: Date.now() });
  };

  const identification = new Identification(clients, rooms, eviction, serial, id);
  const core: CoreServices = {
    identify: (socket, identity, options) => identification.identify(socket, identity, options),
    rooms,
    acks,
    clients,
    inbox,
    namespaces,
    push,
    serial,
    port: () => boundPort,
    clientPushIntervalMs: config.clientPushIntervalMs,
    logger,
    redis,
    keys,
    webhooks,
    connector: { id, redisTarget: config.redis, logger, bus },
  };

  const onConnection = (socket: HeraldSocket): void => {
    const { identity, protocol } = socket.data;
    // Its bindings are written only with a line (no per-connection child of pino: libs/log).
    const log = requestLogger(logger, { clientId: identity.clientId });
    const services: CoreServices = { ...core, logger: log };
    void socket.join(clientRoom(identity.clientId));
    protocol.bind(socket, services);
    socket.on('disconnect', (reason) => {
      log.debug({ reason }, 'disconnected');
      const why = socket.data.disconnectReason ?? (closing ? 'server shutdown' : 'network');
      void serial(socket, async () => {
        // An anonymous socket has no client record and no rooms to clean up.
        if (!socket.data.anonymous) await rooms.disconnected(socket, why);
        if (socket.data.disconnectCallback) await notifyDisconnect(socket);
      }).catch((error: unknown) => log.error({ err: error }, 'disconnect clean-up failed'));
    });
    serial(socket, async () => {
      if (socket.data.anonymous) return void (await protocol.connected(socket, services));
      const previous = await clients.connected(identity.clientId, {
        namespace: identity.namespace,
        userid: identity.userid,
        uuid: identity.uuid,
        platform: identity.platform,
        sid: socket.id,
        connector: id,
      });
      for (const room of new Set([userRoom(identity.userid), ...socket.data.callbackRooms, ...previous])) {
        await rooms.join(socket, room);
      }
      await protocol.connected(socket, services);
    }).catch((error: unknown) => {
      log.error({ err: error }, 'connection set-up failed; disconnecting');
      socket.disconnect(true);
    });
  };

  metrics.watchConnections(() => servers.flatMap((server) => [...server._nsps.values()]));
  servers.forEach((server, i) => {
    const catchUp = catchUps[i]!;
    const parent = server.of(/^\/.+$/);
    parent.use(gate.middleware);
    parent.on('connection', onConnection);
    server.on('new_namespace', (nsp: HeraldNamespace) => {
      if (nsp.name === '/') return;
      nsp.on('herald:push', (envelope) => {
        try {
          catchUp.deliver(nsp, envelope);
        } catch (error) {
          logger.error({ err: error, namespace: nsp.name }, 'delivery failed');
        }
      });
      nsp.on('herald:transfer', (notice) => transferSockets(nsp, notice, rooms, serial, logger.child({ module: 'transfer' })));
      nsp.on('herald:evict', (clientId, ack) => {
        void eviction.evictLocal(nsp, clientId).then(ack, () => ack(0));
      });
    });
  });

  return {
    io,
    id,
    liveness,
    async start() {
      // Ready means Redis answers on every connection the connector needs.
      await Promise.all(connections.map(([client]) => client.ping()));
      await checkClusterVersion(redis);
      await Promise.all([offline.bull.waitUntilReady(), webhooks.bull.waitUntilReady()]);
      await liveness.start();
      for (const watch of watches) await watch.start();
      await settings.start();
      return new Promise<number>((resolve, reject) => {
        httpServer.once('error', reject);
        // The accept queue holds what a busy event loop has not accepted yet (a reconnect storm
        // after a restart). Node asks for 511 by default, which makes the kernel's somaxconn
        // (docs/deploy.md: 8192) useless; the kernel caps this at somaxconn.
        httpServer.listen({ port: config.connectorPort, host: config.bind, backlog: LISTEN_BACKLOG }, () => {
          httpServer.off('error', reject);
          boundPort = (httpServer.address() as AddressInfo).port;
          logger.info({ port: boundPort, bind: config.bind, connector: id }, 'listening');
          resolve(boundPort);
        });
      });
    },
    async close() {
      closing = true;
      intake?.close();
      pingBeat.close();
      for (const watch of watches) watch.stop();
      for (const catchUp of catchUps) catchUp.stop();
      // Disconnect every socket (clients reconnect elsewhere) and stop accepting.
      // (Each server closes the shared HTTP server; the second close only reports it is closed.)
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      // Each disconnect queued its clean-up; let them finish before closing Redis.
      while (pending.size > 0) await Promise.allSettled([...pending]);
      await liveness.stop().catch((error: unknown) => logger.warn({ err: error }, 'could not leave the connector registry'));
      await reports.close();
      await offline.close();
      await webhooks.close();
      await Promise.all(connections.map(([client]) => closeRedis(client)));
    },
  };
}
