import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { ConnectorConfig } from '@herald/config';
import type { Logger } from '@herald/log';
import { userRoom } from '@herald/protocol';
import { ConnectorBus, PushService } from '@herald/push';
import { OfflineQueue, WebhookQueue } from '@herald/queues';
import type { Service } from '@herald/runtime';
import {
  ClientStore,
  ConnectorRegistry,
  InboxStore,
  Keys,
  NamespaceStore,
  RoomStore,
  Scripts,
  checkClusterVersion,
  closeRedis,
  createRedis,
  type RedisClient,
} from '@herald/store';
import { Server } from 'socket.io';
import { deliver } from './core/delivery';
import { Eviction } from './core/eviction';
import { HandshakeGate } from './core/handshake';
import { Liveness } from './core/liveness';
import { NamespaceWatch } from './core/namespace-watch';
import { ReportBatcher } from './core/report-batcher';
import { Rooms } from './core/rooms';
import { transferSockets } from './core/transfer';
import { clientRoom, type HeraldNamespace, type HeraldServer, type HeraldSocket } from './core/socket-data';
import { bindClientEvents } from './protocols/push/client-events';
import { bindPushProtocol } from './protocols/push/handlers';

/** `/health` answers `hello` (seed HEAD); everything else that is not socket.io is 404. */
function plainHttp(req: IncomingMessage, res: ServerResponse): void {
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
 * the push protocol, presence, the report batcher, the heartbeat and the namespace watch.
 * Only `start` listens.
 */
export function buildConnector(config: ConnectorConfig, logger: Logger): Connector {
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const keys = Keys.of(config);
  const connections: [RedisClient, string][] = [];
  const connect = (purpose: string, maxRetriesPerRequest?: number | null, shardedSubscribers?: boolean): RedisClient => {
    const client = createRedis(config.redis, {
      name: `herald-connector-${purpose}`,
      ...(maxRetriesPerRequest !== undefined && { maxRetriesPerRequest }),
      ...(shardedSubscribers !== undefined && { shardedSubscribers }),
    });
    client.on('error', (err: Error) => logger.warn({ err: err.message, connection: purpose }, 'redis connection error'));
    connections.push([client, purpose]);
    return client;
  };
  const redis = connect('main');
  // The adapter needs its own connections: one subscribes (and can do nothing else), one publishes.
  const pub = connect('pub', null);
  const sub = connect('sub', null, true);
  const watchSub = connect('watch', null);

  const scripts = new Scripts(redis);
  const roomStore = new RoomStore(redis, keys, scripts);
  const clients = new ClientStore(redis, keys, scripts);
  const namespaces = new NamespaceStore(redis, keys);
  const inbox = new InboxStore(redis, keys, scripts);
  const reports = new ReportBatcher(scripts, keys, inbox, logger.child({ module: 'reports' }));
  const rooms = new Rooms(roomStore, clients, { activityBroadcast: config.roomActivityBroadcast, connectorId: id }, logger.child({ module: 'rooms' }));
  const offline = new OfflineQueue(redis, keys.queuePrefix());
  const webhooks = new WebhookQueue(redis, keys.queuePrefix());
  const bus = new ConnectorBus(redis, keys, logger.child({ module: 'bus' }));
  const push = new PushService(redis, keys, bus, offline, { offlineDelayMs: config.offlineDelayMs }, logger.child({ module: 'push' }));

  const httpServer = createServer(plainHttp);
  const allowed = config.allowedOrigins;
  const io: HeraldServer = new Server(httpServer, {
    adapter: adapterFor(config.redis, pub, sub, keys),
    allowEIO3: config.allowEio3,
    maxHttpBufferSize: config.maxPayloadBytes,
    cleanupEmptyChildNamespaces: true,
    // Sockets of a browser page carry an Origin; native apps send none and are not affected.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      callback(null, !allowed || origin === undefined || allowed.includes(origin));
    },
  });

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

  const eviction = new Eviction(settled, clients, id, logger.child({ module: 'eviction' }));
  const gate = new HandshakeGate(
    io,
    namespaces,
    eviction,
    { duplicateClient: config.duplicateClient, callbackTimeoutMs: config.callbackTimeoutMs, callbackAllowPrivate: config.callbackAllowPrivate },
    logger.child({ module: 'handshake' }),
  );
  const liveness = new Liveness(id, new ConnectorRegistry(redis, keys), clients, roomStore, config.heartbeatMs, logger.child({ module: 'liveness' }));
  const watch = new NamespaceWatch(io, watchSub, keys.namespaceChannel(), namespaces, config.namespaceOfflineDelayMs, logger.child({ module: 'namespaces' }));

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

  /**
   * Replay before `ok`: the messages in the client's inbox, oldest first. They leave the inbox when
   * acknowledged — all of them through the `offlineMessage` ack callback (or the ids it lists), or
   * one by one with `ackPush` — and count in the report like live acks. Unacknowledged ones come
   * again on the next connect, until they expire.
   */
  const replayInbox = async (socket: HeraldSocket): Promise<void> => {
    const { namespace, platform, clientId } = socket.data.identity;
    const messages = await inbox.pending(clientId, namespace);
    if (messages.length === 0 || !socket.connected) return;
    const offered = new Set(messages.map((m) => m.id));
    socket.emit('offlineMessage', messages, (ids?: unknown) => {
      const acked = Array.isArray(ids) ? ids.map(Number).filter((id) => offered.has(id)) : [...offered];
      for (const id of new Set(acked)) reports.ack(namespace, id, platform, clientId);
    });
  };

  const onConnection = (socket: HeraldSocket): void => {
    const identity = socket.data.identity;
    const log = logger.child({ clientId: identity.clientId });
    void socket.join(clientRoom(identity.clientId));
    bindPushProtocol(socket, { rooms, reports, logger: log, serial });
    bindClientEvents(socket, { clients, push, pushIntervalMs: config.clientPushIntervalMs, logger: log });
    socket.on('disconnect', (reason) => {
      log.debug({ reason }, 'disconnected');
      const why = socket.data.disconnectReason ?? (closing ? 'server shutdown' : 'network');
      void serial(socket, async () => {
        await rooms.disconnected(socket, why);
        if (socket.data.disconnectCallback) await notifyDisconnect(socket);
      }).catch((error: unknown) => log.error({ err: error }, 'disconnect clean-up failed'));
    });
    serial(socket, async () => {
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
      await replayInbox(socket);
      if (socket.connected) socket.emit('ok', { system: hostname(), port: boundPort, clientId: identity.clientId });
    }).catch((error: unknown) => {
      log.error({ err: error }, 'connection set-up failed; disconnecting');
      socket.disconnect(true);
    });
  };

  const parent = io.of(/^\/.+$/);
  parent.use(gate.middleware);
  parent.on('connection', onConnection);
  io.on('new_namespace', (nsp: HeraldNamespace) => {
    if (nsp.name === '/') return;
    nsp.on('herald:push', (envelope) => {
      try {
        deliver(nsp, envelope, reports);
      } catch (error) {
        logger.error({ err: error, namespace: nsp.name }, 'delivery failed');
      }
    });
    nsp.on('herald:transfer', (notice) => transferSockets(nsp, notice, rooms, serial, logger.child({ module: 'transfer' })));
    nsp.on('herald:evict', (clientId, ack) => {
      void eviction.evictLocal(nsp, clientId).then(ack, () => ack(0));
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
      await watch.start();
      return new Promise<number>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.connectorPort, config.bind, () => {
          httpServer.off('error', reject);
          boundPort = (httpServer.address() as AddressInfo).port;
          logger.info({ port: boundPort, bind: config.bind, connector: id }, 'listening');
          resolve(boundPort);
        });
      });
    },
    async close() {
      closing = true;
      watch.stop();
      // Disconnect every socket (clients reconnect elsewhere) and stop accepting.
      await new Promise<void>((resolve) => io.close(() => resolve()));
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
