import { parseRedisTarget, type RedisTarget } from '@herald/config';
import type { Logger } from '@herald/log';
import { metrics } from '@herald/metrics';
import { SessionsConnections, redactHeaders, type SessionsConnection, type SessionsHandshake } from '@herald/store';
import { clientIdOf, isValidName, parseNotification, sessionsSettingsOf, userRoom, type EffectiveSessionsSettings } from '@herald/wire';
import type { CoreServices } from '../../core/protocol';
import { adapterRoom, type HeraldNamespace, type HeraldSocket, type Identity } from '../../core/socket-data';
import { AppRedis } from './app-redis';
import { ReasonLog } from './reason-log';

/** One application Redis and the scopes (namespace + settings) that use it on this connector. */
interface Link {
  readonly key: string;
  readonly redis: AppRedis;
  readonly scopes: Set<Scope>;
  readonly refused: ReasonLog;
}

/**
 * The sockets of one namespace admitted with one set of settings (a settings change applies to
 * sockets connecting after it; the ones connected keep what they were admitted with).
 */
interface Scope {
  readonly key: string;
  readonly namespace: string;
  readonly settings: EffectiveSessionsSettings;
  readonly link: Link;
  readonly sockets: Set<HeraldSocket>;
  /** Sockets by the session they authenticated with. */
  readonly bySession: Map<string, Set<HeraldSocket>>;
  /** The namespace objects (one per socket.io path) holding these sockets, with their socket counts. */
  readonly nsps: Map<HeraldNamespace, number>;
  /** Resolves when the keyspace pattern and the channel are subscribed. */
  ready: Promise<void>;
  /** The subscription failed (the Redis was unreachable): tried again, by a timer and by the next `authenticate`. */
  failed: boolean;
  retry: NodeJS.Timeout | undefined;
}

/** How long after a failed subscription it is tried again. */
const RESUBSCRIBE_MS = 2000;

/** What the hub keeps per socket. */
interface SocketState {
  readonly scope: Scope;
  readonly core: CoreServices;
  readonly handshake: SessionsHandshake;
  sessionId: string | undefined;
  /** The user the socket is identified as (undefined: anonymous). */
  userId: string | undefined;
  /** Set once detached (disconnected): nothing more is written for it. */
  gone: boolean;
  /** An `authenticate` is being handled; `next` is the newest one that arrived meanwhile. */
  authenticating: boolean;
  next: string | undefined;
}

/** What the hub needs from the connector besides a socket's CoreServices. */
export interface HubContext {
  /** The Redis Herald uses: a namespace without `session_redis_url` reads its sessions there. */
  readonly redisTarget: RedisTarget;
  readonly connections: SessionsConnections;
  readonly connectorId: string;
  readonly logger: Logger;
}

/** The handshake as the seed's admin HTTP showed it (socket.io 1.x `socket.handshake`), secrets redacted. */
function handshakeOf(socket: HeraldSocket): SessionsHandshake {
  const h = socket.handshake;
  const query: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(h.query)) if (value !== undefined) query[name] = value;
  return { headers: redactHeaders(h.headers), time: h.time, address: h.address, xdomain: h.xdomain, secure: h.secure, issued: h.issued, url: h.url, query };
}

/** The identity of a socket bound to a user: one client per connection (tabs sharing a session are distinct clients). */
function identityOf(namespace: string, userId: string, socket: HeraldSocket): Identity {
  return Object.freeze({ namespace, uuid: socket.id, userid: userId, platform: 'web' as const, clientId: clientIdOf(namespace, userId, 'web', socket.id), activityBroadcast: false });
}

/**
 * The sessions protocol's state on one connector (docs/protocols/sessions.md): which socket has
 * which session and user, the application Redis connections (one command connection and one
 * subscriber — one per master on a cluster — per distinct Redis, never one per socket), the live
 * re-binding on keyspace notifications, and the `notifications` channel ingress.
 *
 * Ingress decision: every connector subscribes to the channel of the application Redis its sockets
 * use and writes each notification to its own sockets of the named users only (`local`). A message
 * reaches each socket exactly once however many connectors and logic processes run: each socket is
 * on one connector, and logic does not subscribe. The alternative — one subscriber for the whole
 * cluster feeding the stored publish path (ChannelIngress, PushService) — needs an elected
 * subscriber, whose crash loses every user's notifications until another takes over (pub/sub keeps
 * nothing), where here a connector's crash only affects its own sockets, which are disconnected
 * anyway; and the seed's channel is pub/sub, at most once, with no ids to report on. Notifications
 * are therefore not stored and have no delivery report; `herald_sessions_notifications_total`
 * counts them by outcome.
 */
export class SessionsHub {
  private readonly links = new Map<string, Link>();
  private readonly scopes = new Map<string, Scope>();
  private readonly states = new WeakMap<HeraldSocket, SocketState>();

  constructor(private readonly context: HubContext) {}

  /** A socket admitted to a sessions namespace: recorded (no session yet), its scope watched. */
  attach(socket: HeraldSocket, core: CoreServices, stored: Readonly<Record<string, unknown>>): void {
    const namespace = socket.nsp.name;
    const settings = sessionsSettingsOf(stored);
    const scope = this.scopeFor(namespace, settings);
    scope.sockets.add(socket);
    scope.nsps.set(socket.nsp, (scope.nsps.get(socket.nsp) ?? 0) + 1);
    const state: SocketState = { scope, core, handshake: handshakeOf(socket), sessionId: undefined, userId: undefined, gone: false, authenticating: false, next: undefined };
    this.states.set(socket, state);
    void core.serial(socket, () => this.record(socket, state)).catch((error: unknown) => core.logger.warn({ err: error }, 'sessions: could not record the connection'));
  }

  /**
   * `authenticate {sessionId}`: look the session up and bind the socket to its user (or to none).
   * One at a time per socket; those that arrive meanwhile are coalesced into the newest, so a
   * client flooding `authenticate` costs one lookup in flight, and the last session it named wins.
   */
  async authenticate(socket: HeraldSocket, sessionId: string): Promise<void> {
    const state = this.states.get(socket);
    if (!state || state.gone) return;
    state.next = sessionId;
    if (state.authenticating) return;
    state.authenticating = true;
    try {
      while (state.next !== undefined && !state.gone) {
        const next = state.next;
        state.next = undefined;
        await this.authenticateOnce(socket, state, next).catch((error: unknown) =>
          state.core.logger.warn({ err: (error as Error).message }, 'sessions: authenticate failed; the socket stays as it was'),
        );
      }
    } finally {
      state.authenticating = false;
    }
  }

  private async authenticateOnce(socket: HeraldSocket, state: SocketState, sessionId: string): Promise<void> {
    const { scope } = state;
    if (state.sessionId !== sessionId) {
      if (state.sessionId !== undefined) this.unindex(scope, state.sessionId, socket);
      state.sessionId = sessionId;
      let sockets = scope.bySession.get(sessionId);
      if (!sockets) scope.bySession.set(sessionId, (sockets = new Set()));
      sockets.add(socket);
    }
    // Subscribed before the lookup: a change after the GET is notified.
    if (scope.failed) this.watch(scope);
    let userId: string | undefined;
    try {
      await scope.ready;
      userId = await this.lookup(scope, sessionId);
    } catch (error) {
      // The application Redis is unreachable: the admin view shows the session without a user; the
      // socket is bound when the Redis is back (watch, recheckAll).
      await this.record(socket, state).catch(() => undefined);
      throw error;
    }
    await this.bind(socket, state, sessionId, userId);
  }

  /** The socket is gone: out of every index, its record removed, the last one out closes the Redis links. */
  async detach(socket: HeraldSocket): Promise<void> {
    const state = this.states.get(socket);
    if (!state || state.gone) return;
    state.gone = true;
    const { scope } = state;
    if (state.sessionId !== undefined) this.unindex(scope, state.sessionId, socket);
    scope.sockets.delete(socket);
    const left = (scope.nsps.get(socket.nsp) ?? 1) - 1;
    if (left > 0) scope.nsps.set(socket.nsp, left);
    else scope.nsps.delete(socket.nsp);
    await this.context.connections.remove(scope.namespace, this.context.connectorId, socket.id).catch((error: unknown) =>
      state.core.logger.warn({ err: error }, 'sessions: could not remove the connection record'),
    );
    if (scope.sockets.size === 0) await this.dropScope(scope);
  }

  // ------------------------------------------------------------------ scopes and links

  private scopeFor(namespace: string, settings: EffectiveSessionsSettings): Scope {
    const linkKey = settings.redisUrl ?? '';
    const key = JSON.stringify([namespace, linkKey, settings.keyPrefix, settings.channel]);
    const known = this.scopes.get(key);
    if (known) return known;
    const link = this.linkFor(linkKey);
    const scope: Scope = { key, namespace, settings, link, sockets: new Set(), bySession: new Map(), nsps: new Map(), ready: Promise.resolve(), failed: false, retry: undefined };
    this.watch(scope);
    link.scopes.add(scope);
    this.scopes.set(key, scope);
    return scope;
  }

  /**
   * Subscribes the scope's keyspace pattern and channel on its link. When that fails (the Redis is
   * unreachable), it is tried again every few seconds while the scope has sockets, and once it
   * works every session of the scope is looked up: a socket that authenticated meanwhile is bound
   * without having to authenticate again (seed clients authenticate only on connect).
   */
  private watch(scope: Scope): void {
    const recovering = scope.failed;
    scope.failed = false;
    scope.ready = scope.link.redis.watch(scope.settings.keyPrefix, scope.settings.channel).then(
      () => {
        if (recovering) this.recheckScope(scope);
      },
      (error: unknown) => {
        scope.failed = true;
        scope.link.refused.warn('subscribe_failed', { err: (error as Error).message, namespace: scope.namespace, redis: scope.link.redis.description }, 'sessions: cannot subscribe to the application Redis; trying again');
        this.retryLater(scope);
        throw error;
      },
    );
    // Rejections are handled by whoever awaits `ready` (authenticate logs them).
    scope.ready.catch(() => undefined);
  }

  private retryLater(scope: Scope): void {
    if (scope.retry || scope.sockets.size === 0) return;
    scope.retry = setTimeout(() => {
      scope.retry = undefined;
      if (scope.failed && scope.sockets.size > 0) this.watch(scope);
    }, RESUBSCRIBE_MS);
    scope.retry.unref();
  }

  private linkFor(key: string): Link {
    const known = this.links.get(key);
    if (known) return known;
    let target = this.context.redisTarget;
    if (key !== '') {
      const parsed = parseRedisTarget(key);
      // Saved settings were checked by logic; a record written by hand may still be wrong.
      if (typeof parsed === 'string') this.context.logger.error({ reason: parsed }, 'sessions: session_redis_url is invalid; using Herald’s own Redis');
      else target = parsed;
    }
    const logger = this.context.logger;
    const link: Link = {
      key,
      scopes: new Set(),
      refused: new ReasonLog(logger),
      redis: new AppRedis(
        target,
        {
          keyspace: (changed, event) => this.keyChanged(link, changed, event),
          message: (channel, text) => this.notify(link, channel, text),
          resubscribed: () => this.recheckAll(link),
        },
        logger,
      ),
    };
    this.links.set(key, link);
    return link;
  }

  private async dropScope(scope: Scope): Promise<void> {
    clearTimeout(scope.retry);
    scope.retry = undefined;
    if (this.scopes.get(scope.key) === scope) this.scopes.delete(scope.key);
    const { link } = scope;
    link.scopes.delete(scope);
    if (link.scopes.size === 0 && this.links.get(link.key) === link) {
      // The last user of this Redis: close it now, also when a subscription is still under way
      // (an unreachable Redis must not hold the connector's shutdown).
      this.links.delete(link.key);
      await link.redis.close();
      return;
    }
    // Other scopes still use the link: release this one's subscriptions once they are made.
    void scope.ready.then(
      () => link.redis.unwatch(scope.settings.keyPrefix, scope.settings.channel),
      () => undefined,
    );
  }

  private unindex(scope: Scope, sessionId: string, socket: HeraldSocket): void {
    const sockets = scope.bySession.get(sessionId);
    sockets?.delete(socket);
    if (sockets?.size === 0) scope.bySession.delete(sessionId);
  }

  // ------------------------------------------------------------------ binding

  /** The user id a session key holds, or undefined (no key, or a value that is no valid user id). */
  private async lookup(scope: Scope, sessionId: string): Promise<string | undefined> {
    const value = await scope.link.redis.commands.get(scope.settings.keyPrefix + sessionId);
    if (value === null) return undefined;
    if (!isValidName('userid', value)) {
      scope.link.refused.warn('session_user_invalid', { namespace: scope.namespace }, 'sessions: a session key holds no valid user id (1..100 of letters, digits, _ . - $ # / \\); the socket stays without a user');
      return undefined;
    }
    return value;
  }

  /**
   * Identifies the socket as `userId` (joins that user's room, leaves the previous one) or makes it
   * anonymous again. `identify` runs in the socket's serial queue, so lookups applied in the order
   * they resolved (one connection answers in order) leave the socket bound to the newest value.
   */
  private async bind(socket: HeraldSocket, state: SocketState, sessionId: string, userId: string | undefined): Promise<void> {
    // Disconnected, or authenticated with another session since the lookup.
    if (state.gone || state.sessionId !== sessionId) return;
    const { core, scope } = state;
    await core.identify(socket, userId === undefined ? null : identityOf(scope.namespace, userId, socket), { evict: false });
    if (state.gone || state.sessionId !== sessionId) return;
    if (state.userId !== userId) {
      state.userId = userId;
      // The session id is a credential of the application: never logged.
      core.logger.debug({ userId: userId ?? null }, 'sessions: socket bound');
    }
    await this.record(socket, state);
  }

  private async record(socket: HeraldSocket, state: SocketState): Promise<void> {
    if (state.gone) return;
    const entry: SessionsConnection = {
      connectionId: socket.id,
      connector: this.context.connectorId,
      ...(state.sessionId !== undefined ? { sessionId: state.sessionId } : {}),
      ...(state.userId !== undefined ? { userId: state.userId } : {}),
      handshake: state.handshake,
    };
    await this.context.connections.put(state.scope.namespace, entry);
  }

  /** A keyspace notification on the link: every local socket with that session is looked up again. */
  private keyChanged(link: Link, key: string, event: string): void {
    for (const scope of link.scopes) {
      if (!key.startsWith(scope.settings.keyPrefix)) continue;
      const sessionId = key.slice(scope.settings.keyPrefix.length);
      const sockets = scope.bySession.get(sessionId);
      if (!sockets || sockets.size === 0) continue;
      metrics.sessionsRebind(scope.namespace, event);
      void this.rebindSession(scope, sessionId, [...sockets]);
    }
  }

  private async rebindSession(scope: Scope, sessionId: string, sockets: readonly HeraldSocket[]): Promise<void> {
    try {
      const userId = await this.lookup(scope, sessionId);
      await Promise.all(
        sockets.map((socket) => {
          const state = this.states.get(socket);
          return state ? this.bind(socket, state, sessionId, userId) : undefined;
        }),
      );
    } catch (error) {
      this.context.logger.warn({ err: (error as Error).message, namespace: scope.namespace }, 'sessions: re-binding after a session change failed');
    }
  }

  /** After a subscriber was away: every session of the link is looked up again. */
  private recheckAll(link: Link): void {
    for (const scope of link.scopes) this.recheckScope(scope);
  }

  private recheckScope(scope: Scope): void {
    for (const [sessionId, sockets] of scope.bySession) void this.rebindSession(scope, sessionId, [...sockets]);
  }

  // ------------------------------------------------------------------ ingress

  /** A message on a channel of the link: to this connector's sockets of the named users, once each. */
  private notify(link: Link, channel: string, text: string): void {
    const scopes = [...link.scopes].filter((scope) => scope.settings.channel === channel);
    if (scopes.length === 0) return;
    const parsed = parseNotification(text);
    if (typeof parsed === 'string') {
      metrics.sessionsNotification(parsed);
      link.refused.warn(parsed, { channel }, 'sessions: notification ignored');
      return;
    }
    metrics.sessionsNotification('accepted');
    const rooms = parsed.users.filter((user) => isValidName('userid', user)).map((user) => adapterRoom(userRoom(user)));
    if (rooms.length === 0) return;
    // One broadcast per namespace object: a socket in several of the rooms gets the message once.
    const done = new Set<HeraldNamespace>();
    for (const scope of scopes) {
      for (const nsp of scope.nsps.keys()) {
        if (done.has(nsp)) continue;
        done.add(nsp);
        const operator = nsp.local.to(rooms);
        (operator.emit as (event: string, ...args: unknown[]) => boolean)('message', parsed.message);
      }
    }
  }
}
