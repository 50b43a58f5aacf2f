import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Errors, HeraldError, NAME_LIMITS, RoomName, onError } from '@herald/wire';
import { NO_SESSION, NO_USER, SessionsConnections, type Keys, type NamespaceStore, type RedisClient } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { NoQuery } from '../query-params';
import { answers } from '../responses';

/** One character of a name (names.ts NAME_PATTERN), as JSON-schema source. */
const NAME_CHARS = RoomName.pattern!.slice(1, -2);

/** `:key`: the namespace, URL-decoded by the router, with or without its leading `/`. */
const KeyParams = Type.Object({
  key: Type.String({
    pattern: `^(?:/${NAME_CHARS}{0,${NAME_LIMITS.namespace - 1}}|${NAME_CHARS}{1,${NAME_LIMITS.namespace - 1}})$`,
    description: 'The namespace, URL-encoded, with or without its `/`.',
    ...onError({ error: 'NAMESPACE_INVALID' }),
  }),
});

const Handshake = Type.Object(
  {
    headers: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]), { description: '`cookie` and `authorization` (and `proxy-authorization`, `x-api-key`) are `[redacted]`.' }),
    time: Type.String(),
    address: Type.String(),
    xdomain: Type.Boolean(),
    secure: Type.Boolean(),
    issued: Type.Number(),
    url: Type.String(),
    query: Type.Record(Type.String(), Type.Unknown()),
  },
  { description: 'The socket.io handshake, as seed 003 showed it.' },
);

const Connection = Type.Object({
  connectionId: Type.String({ description: 'The socket id.' }),
  sessionId: Type.String({ description: `The session the connection authenticated with; \`${NO_SESSION}\` before \`authenticate\`.` }),
  userId: Type.String({ description: `The user of that session; \`${NO_USER}\` when the session has none.` }),
  handshake: Handshake,
});

const Answer = Type.Object(
  { connections: Type.Array(Connection) },
  {
    examples: [
      {
        connections: [
          {
            connectionId: 'kZjaoWHd7dAjTi9FAAAB',
            sessionId: 'mysessionid',
            userId: 'user5',
            handshake: {
              headers: { host: 'localhost:21314', cookie: '[redacted]' },
              time: 'Wed Dec 02 2026 11:11:43 GMT+0000 (Coordinated Universal Time)',
              address: '::ffff:127.0.0.1',
              xdomain: false,
              secure: false,
              issued: 1796217103013,
              url: '/socket/?EIO=4&transport=websocket',
              query: { EIO: '4', transport: 'websocket' },
            },
          },
        ],
      },
    ],
  },
);

/**
 * `GET /api/admin/namespace/connections/<key>` (seed 003's admin HTTP `GET /`): every connection of
 * a sessions namespace on every connector, with its session (`__nosession__` before
 * `authenticate`), its user (`__nouser__` when the session has none) and its handshake, cookies and
 * credentials redacted. Read from the records each connector keeps (libs/store
 * sessions-connections.ts); connections of a connector that died are dropped once it is reaped.
 */
export function sessionsAdminRoutes({ app: plain, namespaces, redis, keys }: { readonly app: FastifyInstance; readonly namespaces: NamespaceStore; readonly redis: RedisClient; readonly keys: Keys }): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const connections = new SessionsConnections(redis, keys);
  app.get(
    '/api/admin/namespace/connections/:key',
    {
      schema: {
        tags: ['namespaces'],
        security: [{ admin: [] }],
        summary: 'The connections of a sessions namespace on every connector (seed 003 admin HTTP)',
        params: KeyParams,
        querystring: NoQuery,
        response: answers(Answer),
      },
    },
    async (request) => {
      const raw = request.params.key;
      const nsp = raw.startsWith('/') ? raw : `/${raw}`;
      const settings = await namespaces.settings(nsp);
      if (!settings) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
      if (settings.protocol !== 'sessions') throw new HeraldError(Errors.NAMESPACE_NOT_SESSIONS, settings.protocol ?? 'push');
      const list = await connections.list(nsp);
      return {
        connections: list.map((entry) => ({
          connectionId: entry.connectionId,
          sessionId: entry.sessionId ?? NO_SESSION,
          userId: entry.userId ?? NO_USER,
          handshake: entry.handshake,
        })),
      };
    },
  );
}
