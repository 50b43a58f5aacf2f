/**
 * The error catalogue: one entry per failure a client or a third-party server can see.
 *
 * `msg` is the seed's text where the seed had one (spec/seed-behaviour.md, 002), because existing
 * clients and admin UIs match on it. `status` is the HTTP status for REST answers; socket acks carry
 * it as `status` too. `code` is stable and documented in docs/api.md.
 */
export interface CatalogueEntry {
  readonly code: string;
  readonly msg: string;
  readonly status: number;
}

function entry(code: string, msg: string, status: number): CatalogueEntry {
  return Object.freeze({ code, msg, status });
}

export const Errors = Object.freeze({
  // --- authentication (REST) ---
  NEED_AUTHORIZATION: entry('NEED_AUTHORIZATION', 'need authorization', 400),
  NAMESPACE_NOT_FOUND: entry('NAMESPACE_NOT_FOUND', 'namespace not found', 400),
  PASSWD_ERROR: entry('PASSWD_ERROR', 'passwd error', 401),
  AUTH_ERROR: entry('AUTH_ERROR', 'auth error', 401),
  TOO_MANY_ATTEMPTS: entry('TOO_MANY_ATTEMPTS', 'too many failed attempts, retry later', 429),

  // --- push request (seed validation order) ---
  ROOM_EMPTY: entry('ROOM_EMPTY', 'room can not be empty', 400),
  ROOM_INVALID: entry('ROOM_INVALID', 'room invalid', 400),
  PUSH_DATA_INVALID: entry('PUSH_DATA_INVALID', 'pushData can not be empty and must be an Object', 400),
  EXCEPT_INVALID: entry('EXCEPT_INVALID', 'except must be string', 400),
  NAMESPACE_OFFLINE: entry('NAMESPACE_OFFLINE', 'this namespace offline', 400),
  EXPIRE_INVALID: entry('EXPIRE_INVALID', 'expire invalid', 400),
  APS_DATA_TOO_LARGE: entry('APS_DATA_TOO_LARGE', 'pushData.apsData size must be less then 4000 bytes', 400),
  LEAVE_MESSAGE_INVALID: entry('LEAVE_MESSAGE_INVALID', 'leaveMessage must be boolean', 400),
  APNS_NAME_INVALID: entry('APNS_NAME_INVALID', 'apnsName must be string', 400),
  EXTRA_INVALID: entry('EXTRA_INVALID', 'extra must be string', 400),

  // --- reports ---
  ID_NOT_EXISTS: entry('ID_NOT_EXISTS', 'this id not exists', 400),

  // --- rooms and clients ---
  TRANSFER_EMPTY: entry('TRANSFER_EMPTY', 'targetRoom and sourceRooms and type and namespace can not be empty', 400),
  TARGET_ROOM_INVALID: entry('TARGET_ROOM_INVALID', 'targetRoom invalid', 400),
  SOURCE_ROOM_INVALID: entry('SOURCE_ROOM_INVALID', 'sourceRoom invalid', 400),
  TRANSFER_TYPE_INVALID: entry('TRANSFER_TYPE_INVALID', 'type must be join or leave', 400),
  ROOM_NOT_FOUND: entry('ROOM_NOT_FOUND', 'can not find room', 400),
  CLIENT_NOT_FOUND: entry('CLIENT_NOT_FOUND', 'client not found', 400),

  // --- namespaces ---
  KEY_IS_NULL: entry('KEY_IS_NULL', 'key is null', 400),
  NAMESPACE_INVALID: entry('NAMESPACE_INVALID', 'namespace invalid', 400),
  NAMESPACE_MUST_BE_OFFLINE: entry('NAMESPACE_MUST_BE_OFFLINE', 'namespace must be set offline on', 400),

  // --- generic request shape ---
  BODY_INVALID: entry('BODY_INVALID', 'request body invalid', 400),
  QUERY_INVALID: entry('QUERY_INVALID', 'request query invalid', 400),
  PARAMS_INVALID: entry('PARAMS_INVALID', 'request params invalid', 400),
  UNKNOWN_FIELD: entry('UNKNOWN_FIELD', 'unknown field', 400),
  CONTENT_TYPE_INVALID: entry('CONTENT_TYPE_INVALID', 'content-type must be application/json', 415),
  JSON_INVALID: entry('JSON_INVALID', 'body is not valid JSON', 400),
  BODY_TOO_LARGE: entry('BODY_TOO_LARGE', 'request body too large', 413),
  ROUTE_NOT_FOUND: entry('ROUTE_NOT_FOUND', 'route not found', 404),
  METHOD_NOT_ALLOWED: entry('METHOD_NOT_ALLOWED', 'method not allowed', 405),

  // --- server side ---
  STORE_UNAVAILABLE: entry('STORE_UNAVAILABLE', 'service unavailable, retry later', 503),
  INTERNAL: entry('INTERNAL', 'internal error', 500),

  // --- socket handshake (connect_error message texts of the seed) ---
  HS_NAMESPACE_NOT_FOUND: entry('HS_NAMESPACE_NOT_FOUND', 'this namespace not found', 400),
  HS_NAMESPACE_OFFLINE: entry('HS_NAMESPACE_OFFLINE', 'this namespace offline', 400),
  HS_UUID_INVALID: entry('HS_UUID_INVALID', 'uuid invalid', 400),
  HS_USERID_INVALID: entry('HS_USERID_INVALID', 'userid invalid', 400),
  HS_PLATFORM_INVALID: entry('HS_PLATFORM_INVALID', 'platform invalid', 400),
  HS_ACTIVITY_BROADCAST_INVALID: entry('HS_ACTIVITY_BROADCAST_INVALID', 'activityBroadcast invalid', 400),
  HS_CONFLICT: entry('HS_CONFLICT', 'socket.id conflict', 409),
  HS_CALLBACK_FAILED: entry('HS_CALLBACK_FAILED', 'handshake fail', 401),
  HS_ORIGIN_REFUSED: entry('HS_ORIGIN_REFUSED', 'origin not allowed', 403),
  HS_UNAVAILABLE: entry('HS_UNAVAILABLE', 'server busy, retry later', 503),

  // --- socket events (ack bodies) ---
  EVENT_PAYLOAD_INVALID: entry('EVENT_PAYLOAD_INVALID', 'payload invalid', 400),
  JOIN_ROOM_ERROR: entry('JOIN_ROOM_ERROR', 'joinOrleaveRoom error: Error: room invalid', 500),
  FORBIDDEN: entry('FORBIDDEN', 'Forbidden', 403),
  CLIENT_PUSH_LIMITED: entry('CLIENT_PUSH_LIMITED', 'limited access', 500),
  INFO_INVALID: entry('INFO_INVALID', 'info invalid', 400),
  APNS_ROOMS_INVALID: entry('APNS_ROOMS_INVALID', 'apns rooms invalid', 400),

  // --- namespace settings and clean-up ---
  NAMESPACE_EMPTY: entry('NAMESPACE_EMPTY', 'namespace can not be empty', 400),
  NAMESPACE_KEY_MISMATCH: entry('NAMESPACE_KEY_MISMATCH', 'key must be the namespace of the credentials', 400),
  APNS_LIST_TOO_LARGE: entry('APNS_LIST_TOO_LARGE', 'apns_list too large', 400),

  // --- idempotent and batch push ---
  IDEMPOTENCY_KEY_INVALID: entry('IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1 to 255 visible ASCII characters', 400),
  IDEMPOTENCY_KEY_REUSED: entry('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used with another request body', 422),
  PUSH_BATCH_INVALID: entry('PUSH_BATCH_INVALID', 'push batch must be a JSON array of 1 to HERALD_PUSH_BATCH_MAX pushes', 400),
  // --- appended by later issues ---
  /** A join (socket `joinRoom`, REST transfer) would take a client past its namespace's `max_client_rooms`; nothing joined. */
  CLIENT_ROOMS_LIMIT: entry('CLIENT_ROOMS_LIMIT', 'too many rooms for this client', 400),
  // --- admin console ---
  DEAD_LETTER_NOT_FOUND: entry('DEAD_LETTER_NOT_FOUND', 'dead letter job not found', 400),
  DEAD_LETTER_NOT_FAILED: entry('DEAD_LETTER_NOT_FAILED', 'dead letter job is not failed', 400),
  // --- protocols (issue 12) ---
  PROTOCOL_UNKNOWN: entry('PROTOCOL_UNKNOWN', 'protocol unknown', 400),
  PROTOCOL_SETTINGS_INVALID: entry('PROTOCOL_SETTINGS_INVALID', 'protocol settings invalid', 400),
  HS_PROTOCOL_UNSUPPORTED: entry('HS_PROTOCOL_UNSUPPORTED', 'protocol not served by this connector', 400),
  // --- callbacks ---
  CALLBACK_URL_INVALID: entry('CALLBACK_URL_INVALID', 'callback url refused', 400),

  // --- requests refused before routing (the HTTP server's and fastify's own refusals) ---
  URL_INVALID: entry('URL_INVALID', 'request url invalid', 400),
  URL_TOO_LONG: entry('URL_TOO_LONG', 'request url too long', 414),
  HEADERS_TOO_LARGE: entry('HEADERS_TOO_LARGE', 'request headers too large', 431),
  HTTP_INVALID: entry('HTTP_INVALID', 'malformed HTTP request', 400),
  REQUEST_TIMEOUT: entry('REQUEST_TIMEOUT', 'request timeout', 408),
  JSON_TOO_DEEP: entry('JSON_TOO_DEEP', 'body nested too deeply', 400),
  // --- webservice protocol (seed 001: its exact texts) ---
  /** The auth_url request failed (network, timeout, address refused, not a JSON array of rooms): `Auth error: <reason>`. */
  HS_WS_AUTH_ERROR: entry('HS_WS_AUTH_ERROR', 'Auth error', 401),
  /** auth_url answered 401. */
  HS_WS_AUTH_FAILED: entry('HS_WS_AUTH_FAILED', 'Authentication failed', 401),
  /** auth_url answered another status than 200 or 401: the text is `Auth <status> error`. */
  HS_WS_AUTH_STATUS: entry('HS_WS_AUTH_STATUS', 'Auth <status> error', 401),
  /** A user room prefix is set and the rooms hold no user room nor the public channel. */
  HS_WS_PRIVATE_ROOM_MISSING: entry('HS_WS_PRIVATE_ROOM_MISSING', 'User is missing a private room', 403),
  HS_WS_DEVICE_ID_INVALID: entry('HS_WS_DEVICE_ID_INVALID', 'deviceId invalid', 400),
  /** `POST /send` without `site` or `apiKey` (plain-text answer). */
  WS_SEND_PARAMS_MISSING: entry('WS_SEND_PARAMS_MISSING', "Missing query param 'site' or 'apiKey'.", 400),
  /** `POST /send` for an unknown site, a site of another protocol, or a wrong key (plain-text answer). */
  WS_API_KEY_INVALID: entry('WS_API_KEY_INVALID', 'ApiKey invalid.', 401),
  /** `POST /send` with a body Herald cannot deliver (plain-text answer `Invalid body: <reason>`). */
  WS_SEND_BODY_INVALID: entry('WS_SEND_BODY_INVALID', 'Invalid body', 400),
  // --- sessions protocol (seed 003) ---
  NAMESPACE_NOT_SESSIONS: entry('NAMESPACE_NOT_SESSIONS', 'namespace does not use the sessions protocol', 400),
  // --- chat protocol (seed 004; socket acks carry the status as `statusCode`) ---
  CHAT_PAYLOAD_INVALID: entry('CHAT_PAYLOAD_INVALID', 'payload invalid', 400),
  CHAT_SOCKET_MISMATCH: entry('CHAT_SOCKET_MISMATCH', 'socketId is not the id of this connection', 403),
  CHAT_TOKEN_INVALID: entry('CHAT_TOKEN_INVALID', 'sessionToken invalid or expired', 401),
  CHAT_MESSAGE_TOO_LARGE: entry('CHAT_MESSAGE_TOO_LARGE', 'message too large', 413),
  CHAT_CONVERSATION_NOT_FOUND: entry('CHAT_CONVERSATION_NOT_FOUND', 'conversation not found', 404),
  CHAT_NOT_A_MEMBER: entry('CHAT_NOT_A_MEMBER', 'not a member of this conversation', 403),
  CHAT_PROTOCOL_REQUIRED: entry('CHAT_PROTOCOL_REQUIRED', 'the namespace does not use the chat protocol', 400),
  CHAT_RATE_LIMITED: entry('CHAT_RATE_LIMITED', 'too many messages, retry later', 429),
});

export type ErrorName = keyof typeof Errors;

/**
 * A failure that maps to one catalogue entry. `detail` names the offending field or value when
 * that helps the caller; it never carries a secret.
 */
export class HeraldError extends Error {
  override readonly name = 'HeraldError';
  readonly code: string;
  readonly status: number;
  readonly detail: string | undefined;

  constructor(readonly entry: CatalogueEntry, detail?: string) {
    super(detail === undefined ? entry.msg : `${entry.msg}: ${detail}`);
    this.code = entry.code;
    this.status = entry.status;
    this.detail = detail;
  }

  /** The JSON body of an error answer: `{code, msg}`. */
  toBody(): { code: string; msg: string } {
    return { code: this.code, msg: this.message };
  }
}
