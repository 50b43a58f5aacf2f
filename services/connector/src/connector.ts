import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import type { ConnectorConfig } from '@herald/config';
import type { Logger } from '@herald/log';
import { userRoom } from '@herald/protocol';
import type { Service } from '@herald/runtime';
import { Keys, NamespaceStore, RoomStore, Scripts, closeRedis, createRedis } from '@herald/store';
import { Server } from 'socket.io';
import { deliver } from './core/delivery';
import { HandshakeGate } from './core/handshake';
import { ReportBatcher } from './core/report-batcher';
import { Rooms } from './core/rooms';
import { clientRoom, type HeraldNamespace, type HeraldServer, type HeraldSocket } from './core/socket-data';
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
 * Builds an unstarted connector: the socket.io server with the Redis adapter, the handshake gate,
 * the push protocol and the report batcher. Only `start` listens.
 */
export function buildConnector(config: ConnectorConfig, logger: Logger): Service & { readonly io: HeraldServer } {
  const keys = new Keys(config.redisPrefix);
  const redis = createRedis(config.redis, { name: 'herald-connector' });
  // The adapter needs its own connections: one subscribes (and can do nothing else), one publishes.
  const pub = createRedis(config.redis, { name: 'herald-connector-pub', maxRetriesPerRequest: null });
  const sub = createRedis(config.redis, { name: 'herald-connector-sub', maxRetriesPerRequest: null });
  for (const [client, role] of [[redis, 'main'], [pub, 'pub'], [sub, 'sub']] as const) {
    client.on('error', (err: Error) => logger.warn({ err: err.message, connection: role }, 'redis connection error'));
  }

  const scripts = new Scripts(redis);
  const reports = new ReportBatcher(scripts, keys, logger.child({ module: 'reports' }));
  const rooms = new Rooms(new RoomStore(redis, keys, scripts), logger.child({ module: 'rooms' }));

  const httpServer = createServer(plainHttp);
  const allowed = config.allowedOrigins;
  const io: HeraldServer = new Server(httpServer, {
    adapter: createAdapter(pub, sub, { key: keys.socketIoChannel() }),
    allowEIO3: config.allowEio3,
    maxHttpBufferSize: config.maxPayloadBytes,
    cleanupEmptyChildNamespaces: true,
    // Sockets of a browser page carry an Origin; native apps send none and are not affected.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      callback(null, !allowed || origin === undefined || allowed.includes(origin));
    },
  });

  const gate = new HandshakeGate(io, new NamespaceStore(redis, keys), logger.child({ module: 'handshake' }));
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

  const onConnection = (socket: HeraldSocket): void => {
    const identity = socket.data.identity;
    const log = logger.child({ clientId: identity.clientId });
    void socket.join(clientRoom(identity.clientId));
    bindPushProtocol(socket, { rooms, reports, logger: log, serial });
    socket.on('disconnect', (reason) => {
      log.debug({ reason }, 'disconnected');
      void serial(socket, () => rooms.disconnected(socket));
    });
    serial(socket, async () => {
      await rooms.join(socket, userRoom(identity.userid));
      // Offline replay (the offline-delivery issue) goes here, before `ok`.
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
  });

  let boundPort = 0;
  return {
    io,
    async start() {
      // Ready means Redis answers on every connection the connector needs.
      await Promise.all([redis.ping(), pub.ping(), sub.ping()]);
      return new Promise<number>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.connectorPort, config.bind, () => {
          httpServer.off('error', reject);
          boundPort = (httpServer.address() as AddressInfo).port;
          logger.info({ port: boundPort, bind: config.bind }, 'listening');
          resolve(boundPort);
        });
      });
    },
    async close() {
      // Disconnect every socket (clients reconnect elsewhere) and stop accepting.
      await new Promise<void>((resolve) => io.close(() => resolve()));
      // Each disconnect queued its clean-up; let them finish before closing Redis.
      while (pending.size > 0) await Promise.allSettled([...pending]);
      await reports.close();
      await Promise.all([closeRedis(redis), closeRedis(pub), closeRedis(sub)]);
    },
  };
}
