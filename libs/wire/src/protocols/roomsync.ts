import { Type, type Static } from '@sinclair/typebox';

/**
 * The namespace settings of the roomsync protocol (seed 000 "Always Online": its config/default.json
 * `authTimeout`, `ignoreUserAuth` / `forceUserAuth`, `maxMsgSize`, plus history retention and the
 * admin credentials its REST API checks). Saved with `POST /api/admin/namespace/save {settings}`;
 * docs/protocols/roomsync.md documents each field. Every field is optional: ROOMSYNC_DEFAULTS
 * applies, in `roomsyncSettings` only.
 */
export const RoomsyncSettingsSchema = Type.Object(
  {
    auth_timeout_ms: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 600_000, description: 'How long a client has to `authenticate` after connecting (seed `authTimeout`). @default 10000' }),
    ),
    force_user_auth: Type.Optional(
      Type.Boolean({
        description:
          'Check `authenticate` tokens against the tokens of `/user/create_token`. `false` lets any token pass (the seed\'s development mode). Also set by `POST /admin/system/config {forceUserAuth}`. @default true',
      }),
    ),
    max_message_bytes: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024, description: 'Largest `msg` (bytes of its JSON); a larger one is answered `msg {status:1}` and neither relayed nor stored (seed `maxMsgSize` 500 KB). @default 512000' }),
    ),
    auth_rate_limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100_000, description: 'Authentications a minute per uid (seed `authRateLimit`). @default 30' }),
    ),
    history_max_messages: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Most messages kept per room and storage kind (inserts, updated msgIds, ignored); the oldest go first. @default 10000' }),
    ),
    history_max_age_s: Type.Optional(
      Type.Integer({ minimum: 60, maximum: 10 * 366 * 86_400, description: 'Messages older than this are dropped, and a room\'s history expires this long after its last message. @default 2592000 (30 days)' }),
    ),
    admin_uid: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f]+$', description: 'The `uid` the seed\'s REST API (`/user/*`, `/admin/*`) expects in its query; it finds the namespace.' }),
    ),
    admin_token: Type.Optional(
      Type.String({ minLength: 8, maxLength: 200, description: 'The admin `token` of that query. Stored hashed, never shown (GET shows `admin_token_set`).' }),
    ),
  },
  { additionalProperties: false },
);

export type RoomsyncSettingsInput = Static<typeof RoomsyncSettingsSchema>;

/** The settings spec of the roomsync protocol (PROTOCOL_SETTINGS entry). */
export const ROOMSYNC_SETTINGS = Object.freeze({
  schema: RoomsyncSettingsSchema,
  hashed: Object.freeze(['admin_token'] as const),
  writeOnly: Object.freeze([] as const),
});

/** Defaults of the roomsync settings, applied here only. */
export const ROOMSYNC_DEFAULTS = Object.freeze({
  authTimeoutMs: 10_000,
  forceUserAuth: true,
  maxMessageBytes: 500 * 1024,
  authRateLimit: 30,
  historyMaxMessages: 10_000,
  historyMaxAgeS: 30 * 86_400,
});

/** The roomsync settings of a namespace, defaults applied. */
export interface RoomsyncSettings {
  readonly authTimeoutMs: number;
  readonly forceUserAuth: boolean;
  readonly maxMessageBytes: number;
  readonly authRateLimit: number;
  readonly historyMaxMessages: number;
  readonly historyMaxAgeS: number;
  readonly adminUid: string | undefined;
  /** The stored hash of the admin token (verify with `verifySecret`). */
  readonly adminTokenHash: string | undefined;
}

const int = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback);

/**
 * Reads a namespace's stored protocol settings defensively (a hand-edited value falls back to the
 * default, never breaks a connection).
 */
export function roomsyncSettings(stored: Readonly<Record<string, unknown>> | undefined): RoomsyncSettings {
  const s = stored ?? {};
  return Object.freeze({
    authTimeoutMs: int(s['auth_timeout_ms'], ROOMSYNC_DEFAULTS.authTimeoutMs),
    forceUserAuth: typeof s['force_user_auth'] === 'boolean' ? s['force_user_auth'] : ROOMSYNC_DEFAULTS.forceUserAuth,
    maxMessageBytes: int(s['max_message_bytes'], ROOMSYNC_DEFAULTS.maxMessageBytes),
    authRateLimit: int(s['auth_rate_limit'], ROOMSYNC_DEFAULTS.authRateLimit),
    historyMaxMessages: int(s['history_max_messages'], ROOMSYNC_DEFAULTS.historyMaxMessages),
    historyMaxAgeS: int(s['history_max_age_s'], ROOMSYNC_DEFAULTS.historyMaxAgeS),
    adminUid: typeof s['admin_uid'] === 'string' ? s['admin_uid'] : undefined,
    adminTokenHash: typeof s['admin_token'] === 'string' ? s['admin_token'] : undefined,
  });
}

/**
 * What a connector tells every connector about a roomsync room (inter-server event
 * `herald:roomsync`): `disconnect` — the user's connection was on a connector that died, and the
 * reaper ended it; each connector sends `remote_disconnect {uid}` to its sockets in the room.
 */
export interface RoomsyncNotice {
  readonly kind: 'disconnect';
  readonly room: string;
  /** The uid as its client sent it (a number stays a number on the wire). */
  readonly uid: string | number;
}

export function isRoomsyncNotice(value: unknown): value is RoomsyncNotice {
  if (value === null || typeof value !== 'object') return false;
  const notice = value as Record<string, unknown>;
  return notice['kind'] === 'disconnect' && typeof notice['room'] === 'string' && (typeof notice['uid'] === 'string' || (typeof notice['uid'] === 'number' && Number.isFinite(notice['uid'])));
}
