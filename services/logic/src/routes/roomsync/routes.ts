import { createHash } from 'node:crypto';
import type { Logger } from '@herald/log';
import type { PushService } from '@herald/publish';
import {
  RoomsyncAccounts,
  RoomsyncHistory,
  RoomsyncPresence,
  verifySecret,
  type Keys,
  type NamespaceSettings,
  type NamespaceStore,
  type RedisClient,
} from '@herald/store';
import { HeraldError, isValidName, roomsyncSettings, validatePushRequest } from '@herald/wire';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthFailures } from '../../plugins/auth';
import { RoomsyncCodes, RoomsyncRefusal, answer } from './envelope';

export interface RoomsyncRouteContext {
  readonly app: FastifyInstance;
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly namespaces: NamespaceStore;
  readonly push: PushService;
  /** logic's failed-authentication limit per client address, shared with the Basic-auth routes. */
  readonly failures: AuthFailures;
  readonly logger: Logger;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The roomsync namespace whose admin `uid` & `token` (query) authenticated the request. */
    roomsyncNamespace?: NamespaceSettings;
  }
}

type Fields = Record<string, unknown>;

/** OpenAPI description of a seed route: answered with the seed's envelope (docs/protocols/roomsync.md), never a catalogue error. */
const doc = (summary: string) => ({
  tags: ['roomsync'],
  summary,
  description: 'Roomsync namespaces (seed 000). Admin `uid` & `token` in the query. Always HTTP 200 with `{meta: {status, msg}, data}`; see docs/protocols/roomsync.md.',
});

const fieldsOf = (value: unknown): Fields => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : {});

/** A uid or room id given as a non-empty string or a number (the seed's `if (roomId && roomId != '')`). */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.length > 0 && value.length <= 200 && !/[\u0000-\u001f]/.test(value)) return value;
  return undefined;
}

/** `roomId` from the body, else the query (seed: `req.query['roomId'] || req.body.roomId` and the reverse). */
function roomIdOf(request: FastifyRequest): string {
  const room = idOf(fieldsOf(request.body)['roomId']) ?? idOf(fieldsOf(request.query)['roomId']);
  if (room === undefined) throw new RoomsyncRefusal(RoomsyncCodes.paramError);
  return room;
}

/** A boolean from JSON, or `true` / `false` from a form body. */
function flagOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return undefined;
}

/**
 * Seed 000's REST API for roomsync namespaces (docs/protocols/roomsync.md): the token API
 * (`/user/*`, its port 4000) and the admin API (`/admin/*`, its port 3000), both on logic.
 *
 * Both authenticate with the admin `uid` & `token` of the query, which name the namespace: its
 * `admin_uid` setting and the hash of its `admin_token` (seed: a MongoDB `admin` document).
 * Answers are the seed's envelope with HTTP 200, never Herald's `{code, msg}`: this scope has its
 * own error handler, so a malformed body is `5 param error` and an unexpected failure `4 server
 * errors` (logged), as seed apps expect. JSON and form bodies are accepted, as the seed's
 * body-parser did.
 */
export function roomsyncRoutes(context: RoomsyncRouteContext): void {
  const { redis, keys, namespaces, push, failures, logger } = context;
  const accounts = new RoomsyncAccounts(redis, keys);
  const history = new RoomsyncHistory(redis, keys);
  const presence = new RoomsyncPresence(redis, keys);
  const log = logger.child({ module: 'roomsync-api' });

  const admits = (record: NamespaceSettings | null, uid: string, token: string): record is NamespaceSettings => {
    if (!record || record.protocol !== 'roomsync' || record.offline) return false;
    const settings = roomsyncSettings(record.protocolSettings);
    return settings.adminUid === uid && verifySecret(token, settings.adminTokenHash);
  };
  /**
   * Which namespace credentials named last: only a hint, since every request checks them against
   * the namespace's current settings (kept coherent in memory by the namespace channel), so a
   * changed token or admin uid takes effect at once.
   */
  const found = new Map<string, string>();

  /** The roomsync namespace whose admin credentials these are; every namespace is looked at on a miss. */
  async function namespaceOf(uid: string, token: string): Promise<NamespaceSettings | undefined> {
    const hint = `${uid}\n${createHash('sha256').update(token).digest('hex')}`;
    const known = found.get(hint);
    if (known !== undefined) {
      const record = await namespaces.settings(known);
      if (admits(record, uid, token)) return record;
      found.delete(hint);
    }
    for await (const page of namespaces.pages()) {
      for (const record of page) {
        if (!admits(record, uid, token)) continue;
        if (found.size >= 1000) found.clear();
        found.set(hint, record.key);
        return record;
      }
    }
    return undefined;
  }

  void context.app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    scope.decorateRequest('roomsyncNamespace', undefined);
    scope.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      if (error instanceof RoomsyncRefusal) return reply.status(200).send(answer(error.code, error.data));
      // Bad input caught before the route (malformed JSON, unknown content type, too large) or a
      // push the publish path refuses: the seed's `param error`.
      if (error instanceof HeraldError || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) {
        return reply.status(200).send(answer(RoomsyncCodes.paramError));
      }
      request.log.error({ err: error }, 'roomsync api failed');
      return reply.status(200).send(answer(RoomsyncCodes.serverError));
    });
    scope.addHook('onRequest', async (request) => {
      // An address over logic's failed-authentication limit is refused before any lookup (the
      // limit's own refusal, a 429 elsewhere, is the seed's `require permission` here).
      await failures.check(request.ip).catch(() => {
        throw new RoomsyncRefusal(RoomsyncCodes.permission);
      });
      const query = fieldsOf(request.query);
      const uid = query['uid'];
      const token = query['token'];
      const record = typeof uid === 'string' && typeof token === 'string' && uid !== '' && token !== '' ? await namespaceOf(uid, token) : undefined;
      if (!record) {
        await failures.record(request.ip);
        throw new RoomsyncRefusal(RoomsyncCodes.permission);
      }
      request.roomsyncNamespace = record;
    });

    /** The namespace key of an authenticated request. */
    const ns = (request: FastifyRequest): string => request.roomsyncNamespace!.key;

    const userOf = (request: FastifyRequest): { raw: unknown; uid: string } => {
      const raw = fieldsOf(request.body)['uid'];
      const uid = idOf(raw);
      if (uid === undefined || !isValidName('userid', uid)) throw new RoomsyncRefusal(RoomsyncCodes.paramError);
      return { raw, uid };
    };

    scope.post('/user/create_token', { schema: doc('Seed 000: create a user token {uid}') }, async (request) => {
      const { raw, uid } = userOf(request);
      const token = await accounts.create(ns(request), uid);
      if (token === undefined) throw new RoomsyncRefusal(RoomsyncCodes.userExists);
      log.info({ namespace: ns(request), uid }, 'roomsync token created');
      return answer(RoomsyncCodes.ok, { uid: raw, token });
    });

    scope.post('/user/refresh_token', { schema: doc('Seed 000: replace a user token {uid}') }, async (request) => {
      const { raw, uid } = userOf(request);
      const token = await accounts.refresh(ns(request), uid);
      if (token === undefined) throw new RoomsyncRefusal(RoomsyncCodes.userNotExists, { uid: raw });
      log.info({ namespace: ns(request), uid }, 'roomsync token refreshed');
      return answer(RoomsyncCodes.ok, { uid: raw, token });
    });

    scope.get('/admin/monitor/stat', { schema: doc('Seed 000: online users and rooms, cluster-wide') }, async (request) => {
      const record = request.roomsyncNamespace!;
      const settings = roomsyncSettings(record.protocolSettings);
      const { users, rooms } = await presence.snapshot(record.key);
      return answer(RoomsyncCodes.ok, {
        online_user_count: users.length,
        online_users: users.map((user) => ({ uid: user.uid, socketId: user.sid })),
        online_room_count: rooms.length,
        online_rooms: rooms,
        // One connection per uid: every authenticated socket is an online user.
        online_socket_count: users.length,
        force_user_auth: settings.forceUserAuth,
        env: process.env['NODE_ENV'] ?? null,
        config: {
          auth_timeout_ms: settings.authTimeoutMs,
          max_message_bytes: settings.maxMessageBytes,
          auth_rate_limit: settings.authRateLimit,
          history_max_messages: settings.historyMaxMessages,
          history_max_age_s: settings.historyMaxAgeS,
        },
        memory: process.memoryUsage(),
      });
    });

    scope.get('/admin/monitor/room_users', { schema: doc('Seed 000: the users in a room ?roomId') }, async (request) => {
      const members = await presence.members(ns(request), roomIdOf(request));
      return answer(RoomsyncCodes.ok, { users: members.map((m) => (m.dummy ? { uid: m.uid, dummy: true } : { uid: m.uid })) });
    });

    scope.get('/admin/monitor/room_msgs', { schema: doc('Seed 000: a page of a room history ?roomId&offset') }, async (request) => {
      const room = roomIdOf(request);
      const offset = parseInt(String(fieldsOf(request.query)['offset'] ?? '0'), 10);
      const page = await history.page(ns(request), room, Number.isFinite(offset) && offset > 0 ? offset : 0);
      return answer(RoomsyncCodes.ok, { msgs: page });
    });

    scope.post('/admin/system/push', { schema: doc('Seed 000: `system <content>` to a room {roomId, content}') }, async (request) => {
      const record = request.roomsyncNamespace!;
      const room = roomIdOf(request);
      const content = fieldsOf(request.body)['content'];
      if (content === undefined) throw new RoomsyncRefusal(RoomsyncCodes.paramError);
      if ((await presence.members(record.key, room)).length === 0) throw new RoomsyncRefusal(RoomsyncCodes.roomNotExists);
      // Through the publish path: stored with a report, delivered as `system <content>` on every
      // connector (the roomsync protocol's encode). A room id Herald cannot name is a param error.
      await push.push(record.key, validatePushRequest({ room, pushData: { content } }, false));
      return answer(RoomsyncCodes.ok);
    });

    scope.post('/admin/system/config', { schema: doc('Seed 000: set force_user_auth {forceUserAuth}') }, async (request) => {
      const raw = fieldsOf(request.body)['forceUserAuth'];
      if (raw !== undefined) {
        const force = flagOf(raw);
        if (force === undefined) throw new RoomsyncRefusal(RoomsyncCodes.paramError);
        await namespaces.save(ns(request), { protocolSettings: { force_user_auth: force } });
      }
      return answer(RoomsyncCodes.ok);
    });

    // The seed's code serves `clear_room_msg`; its README says `clear_room_msgs`: both work.
    for (const path of ['/admin/system/clear_room_msg', '/admin/system/clear_room_msgs']) {
      scope.post(path, { schema: doc('Seed 000: clear a room history {roomId}') }, async (request) => {
        await history.clear(ns(request), roomIdOf(request));
        return answer(RoomsyncCodes.ok);
      });
    }
  });
}
