import { Type, type Static } from '@sinclair/typebox';

/**
 * The sessions protocol (seed 003, yunity-sockets; docs/protocols/sessions.md): its namespace
 * settings, the client's `authenticate` payload and the two forms of a `notifications` message.
 * One place for the shapes and defaults, used by logic (settings save), the connector and the tests.
 */

/** Seed 003's defaults: Django's `session-store-` keys, the `notifications` channel. */
export const SESSIONS_DEFAULTS = Object.freeze({
  session_key_prefix: 'session-store-',
  notifications_channel: 'notifications',
});

/** `redis://[user:password@]host[:port][/db]` (or rediss://), as @herald/config parseRedisTarget takes it. */
const REDIS_URL = String.raw`rediss?://(?:[^\s/@]*@)?(?:\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.\-]+)(?::\d{1,5})?(?:/\d{0,2})?`;
/** One `host:port` of a Redis Cluster's node list. */
const CLUSTER_NODE = String.raw`(?:\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.\-]+):\d{1,5}`;

/**
 * Namespace settings of a `protocol: "sessions"` namespace (all optional; the defaults above, and
 * Herald's own Redis when `session_redis_url` is unset). `session_redis_url` may hold a password:
 * it is write-only (never returned by the admin API, never logged).
 */
export const SessionsSettingsSchema = Type.Object(
  {
    session_key_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s*?\\[\\]\\\\]+$', 'x-herald-pattern': 'must not contain white space, *, ?, [, ] or \\' })),
    session_redis_url: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        pattern: `^(?:${REDIS_URL}|${CLUSTER_NODE}(?:,${CLUSTER_NODE})*)$`,
        'x-herald-pattern': 'must be redis://[:password@]host:port[/db] (or rediss://), or host:port,host:port,… for a Redis Cluster',
      }),
    ),
    notifications_channel: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s*?\\[\\]\\\\]+$', 'x-herald-pattern': 'must not contain white space, *, ?, [, ] or \\' })),
  },
  { additionalProperties: false },
);
export type SessionsSettings = Static<typeof SessionsSettingsSchema>;

/** The protocol-settings entry (libs/wire/src/protocol-settings.ts). */
export const SESSIONS_SETTINGS_SPEC = Object.freeze({
  schema: SessionsSettingsSchema,
  writeOnly: Object.freeze(['session_redis_url'] as const),
});

/** The settings a connector works with: the stored ones over the defaults. */
export interface EffectiveSessionsSettings {
  readonly keyPrefix: string;
  /** Undefined: Herald's own Redis. */
  readonly redisUrl: string | undefined;
  readonly channel: string;
}

/** Applies the defaults (the one place they are applied) to a namespace's stored protocol settings. */
export function sessionsSettingsOf(stored: Readonly<Record<string, unknown>> | undefined): EffectiveSessionsSettings {
  const text = (key: string): string | undefined => {
    const value = stored?.[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  return {
    keyPrefix: text('session_key_prefix') ?? SESSIONS_DEFAULTS.session_key_prefix,
    redisUrl: text('session_redis_url'),
    channel: text('notifications_channel') ?? SESSIONS_DEFAULTS.notifications_channel,
  };
}

/** Longest session id Herald looks up (Django's are 32 characters). */
export const SESSION_ID_MAX_LENGTH = 256;

/**
 * The session id of an `authenticate` payload (`{sessionId}`), or a reason it is not one. A string
 * of 1..256 characters; a number is taken as its decimal text (the seed concatenated whatever came).
 */
export function sessionIdOf(payload: unknown): string | { readonly invalid: string } {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { invalid: 'payload is not an object' };
  const raw = (payload as Record<string, unknown>)['sessionId'];
  const id = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
  if (typeof id !== 'string' || id === '') return { invalid: 'sessionId is not a non-empty string' };
  if (id.length > SESSION_ID_MAX_LENGTH) return { invalid: `sessionId is longer than ${SESSION_ID_MAX_LENGTH}` };
  return id;
}

/** A notification read from the channel: the users and what each of their sockets gets as `message`. */
export interface SessionsNotification {
  readonly users: readonly string[];
  readonly message: unknown;
}

/** Why a channel message was ignored (the label of the refusal counter and the log line). */
export type NotificationRefusal = 'json_invalid' | 'not_object' | 'users_invalid' | 'data_missing' | 'payload_missing';

/** Most users one notification may name. */
export const NOTIFICATION_USERS_MAX = 10_000;

/**
 * Reads a `notifications` channel message, in either of the seed's forms:
 * - `{users:[…], data}` (seed e1123b0): every socket of those users gets `message data`;
 * - `{users:[…], type, payload, …}` (seed HEAD): they get `message` with everything but `users`.
 * `data` wins when both are present (the first form is checked first, as the seed did). User ids
 * may be numbers (Django's) or strings; they are matched as their decimal text, as the seed's
 * `'room:' + userId` did.
 */
export function parseNotification(text: string): SessionsNotification | NotificationRefusal {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'json_invalid';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'not_object';
  const { users, ...rest } = body as Record<string, unknown>;
  if (!Array.isArray(users) || users.length > NOTIFICATION_USERS_MAX) return 'users_invalid';
  const ids: string[] = [];
  for (const user of users) {
    if (typeof user === 'string' && user !== '') ids.push(user);
    else if (typeof user === 'number' && Number.isFinite(user)) ids.push(String(user));
    else return 'users_invalid';
  }
  if (rest['data'] !== undefined) return { users: [...new Set(ids)], message: rest['data'] };
  if ('type' in rest || 'payload' in rest) {
    if (rest['payload'] === undefined) return 'payload_missing';
    return { users: [...new Set(ids)], message: rest };
  }
  return 'data_missing';
}
