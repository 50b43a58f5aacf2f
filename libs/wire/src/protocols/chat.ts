import { Type, type Static } from '@sinclair/typebox';
import { NAME_LIMITS, clientIdOf } from '../names';
import { patternMeaning } from '../annotations';
import { RoomName } from '../schemas';

/**
 * The chat protocol (seed 004, xRealtime; docs/protocols/chat.md): its namespace settings, the
 * payloads of its socket events and of its REST route, and the shapes of its answers. The connector
 * (services/connector/src/protocols/chat/) and logic (routes/chat/) check every payload with these.
 */

// ---------------------------------------------------------------------------------------------------
// Namespace settings (`settings` of `POST /api/admin/namespace/save` for a `chat` namespace)

/** What a chat namespace may set; every field optional, defaults in CHAT_DEFAULTS. */
export const ChatSettings = Type.Object(
  {
    session_token_ttl: Type.Optional(
      Type.Integer({ minimum: 60, maximum: 30 * 86_400, description: 'Seconds a `logIn` session token lives (the seed’s never expired). Default 86400.' }),
    ),
    apns_title: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'Title of the APNs alert an offline iOS user gets (seed: `您有一条未读消息`).' }),
    ),
    apns_sound: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'APNs `sound` of that alert (seed: `default`).' })),
    apns_name: Type.Optional(
      Type.String({ ...RoomName, description: 'The APNs configuration of the namespace to use; unset: the `default` entry of namespace `/`.' }),
    ),
    message_expire: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 10, description: 'Hours a message waits in an offline user’s inbox (and its report lives). Default 10.' }),
    ),
    send_rate: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100_000, description: 'Recipients per second one socket may send to, on average (a bucket of 1000). Default 200.' }),
    ),
  },
  { additionalProperties: false },
);
export type ChatSettings = Static<typeof ChatSettings>;

/** The defaults of the chat settings, in one place. */
export const CHAT_DEFAULTS = Object.freeze({
  session_token_ttl: 86_400,
  apns_title: '您有一条未读消息',
  apns_sound: 'default',
  apns_name: undefined as string | undefined,
  message_expire: 10,
  send_rate: 200,
});

export type ResolvedChatSettings = { readonly [K in keyof typeof CHAT_DEFAULTS]: (typeof CHAT_DEFAULTS)[K] };

/** A namespace's chat settings with the defaults applied (stored values were checked at save). */
export function chatSettingsOf(stored: Readonly<Record<string, unknown>> | undefined): ResolvedChatSettings {
  const s = stored ?? {};
  const pick = <K extends keyof typeof CHAT_DEFAULTS>(key: K, type: 'number' | 'string'): (typeof CHAT_DEFAULTS)[K] =>
    (typeof s[key] === type ? s[key] : CHAT_DEFAULTS[key]) as (typeof CHAT_DEFAULTS)[K];
  return Object.freeze({
    session_token_ttl: pick('session_token_ttl', 'number'),
    apns_title: pick('apns_title', 'string'),
    apns_sound: pick('apns_sound', 'string'),
    apns_name: pick('apns_name', 'string'),
    message_expire: pick('message_expire', 'number'),
    send_rate: pick('send_rate', 'number'),
  });
}

// ---------------------------------------------------------------------------------------------------
// Socket events

/** A user id, as every other Herald user id (names.ts). */
export const ChatUserId = Type.String({ minLength: 1, maxLength: NAME_LIMITS.userid, pattern: '^[\\w.\\-$#/\\\\]+$', ...patternMeaning('must be a user id') });
/** A session token as `logIn` hands it out: 32 hex characters (seed `randomHex(32)`). */
export const SessionToken = Type.String({ minLength: 1, maxLength: 64 });
/** Conversation ids are Herald's (10 alphanumeric characters, like the seed's message ids). */
export const ConversationId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9]+$', ...patternMeaning('must be a conversation id') });
/** Most targets of one message (a larger audience is a conversation); also the burst of `send_rate`. */
export const MAX_CHAT_TARGETS = 1000;
/** Largest message (its `metaData` JSON): below the connector's socket.io message limit (HERALD_MAX_PAYLOAD_BYTES, 64 KiB). */
export const MAX_CHAT_MESSAGE_BYTES = 32 * 1024;
const UserIds = (max: number) => Type.Array(ChatUserId, { maxItems: max });
/** An APNs device token: hex (Apple's are 64 characters today; the length is not fixed). */
export const DeviceToken = Type.String({ minLength: 16, maxLength: 512, pattern: '^[0-9a-fA-F]+$', ...patternMeaning('must be a hexadecimal APNs device token') });

/** `logIn {userId, socketId}`. */
export const LogInPayload = Type.Object({ userId: ChatUserId, socketId: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
export type LogInPayload = Static<typeof LogInPayload>;

/** `message/direct {sessionToken, targetIds, type, textContent, …}`; other fields travel in `metaData`. */
export const DirectPayload = Type.Object({ sessionToken: SessionToken, targetIds: Type.Array(ChatUserId, { minItems: 1, maxItems: MAX_CHAT_TARGETS }) });
export type DirectPayload = Static<typeof DirectPayload> & Record<string, unknown>;

/** `message/conversation {sessionToken, conversationId, ignoreIds?, …}`. */
export const ConversationMessagePayload = Type.Object({
  sessionToken: SessionToken,
  conversationId: ConversationId,
  ignoreIds: Type.Optional(UserIds(MAX_CHAT_TARGETS)),
});
export type ConversationMessagePayload = Static<typeof ConversationMessagePayload> & Record<string, unknown>;

/** `message/group {sessionToken, groupId, …}`: a group is a conversation (seed: a LeanCloud ChatGroup). */
export const GroupMessagePayload = Type.Object({ sessionToken: SessionToken, groupId: ConversationId, ignoreIds: Type.Optional(UserIds(MAX_CHAT_TARGETS)) });
export type GroupMessagePayload = Static<typeof GroupMessagePayload> & Record<string, unknown>;

/** The fields of a conversation only its admins may change (seed default). */
export const DEFAULT_PROTECTED = Object.freeze(['name', 'members', 'admin']);

/** `conversation/add {sessionToken, name, members, admin, protected, …custom}`. */
export const ConversationAddPayload = Type.Object({
  sessionToken: SessionToken,
  name: Type.Optional(Type.String({ maxLength: 200 })),
  members: Type.Optional(UserIds(MAX_CHAT_TARGETS)),
  admin: Type.Optional(UserIds(100)),
  protected: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 })),
});
export type ConversationAddPayload = Static<typeof ConversationAddPayload> & Record<string, unknown>;

/** `device/register {sessionToken, deviceToken}`: the iOS device of the logged-in user (`null` removes it). */
export const DeviceRegisterPayload = Type.Object(
  { sessionToken: SessionToken, deviceToken: Type.Union([DeviceToken, Type.Null()]) },
  { additionalProperties: false },
);
export type DeviceRegisterPayload = Static<typeof DeviceRegisterPayload>;

/** `POST /api/auth/chat/device {userId, deviceToken}`: the same for a third-party server. */
export const ChatDeviceBody = Type.Object(
  {
    userId: Type.String({ ...ChatUserId, description: 'The user whose iOS device this is.' }),
    deviceToken: Type.Union([DeviceToken, Type.Null()], { description: 'The APNs device token (hex); `null` removes the registration.' }),
  },
  { additionalProperties: false },
);
export type ChatDeviceBody = Static<typeof ChatDeviceBody>;

// ---------------------------------------------------------------------------------------------------
// Answers (the seed's `{statusCode, body}` envelope)

/** Who got a message at once, and who gets it later (inbox, APNs). */
export interface ChatSent {
  readonly online: string[];
  readonly offline: string[];
}

/** Every ack of the chat protocol. Errors: `{statusCode: 4xx/5xx, body: {code, msg}}` (catalogue). */
export type ChatAck<B = unknown> = { readonly statusCode: number; readonly body: B };

/** The event a chat client gets for each message. */
export interface ChatMessageEvent {
  readonly metaData: Record<string, unknown>;
  readonly id: string;
}

// ---------------------------------------------------------------------------------------------------
// Client ids

/**
 * The device uuid of chat clients. Seed clients name only a user, so each user is one Herald client
 * per role, whatever socket it logs in from: its inbox follows the user from connection to
 * connection.
 */
export const CHAT_UUID = 'chat';

/** The client a logged-in chat socket is (`web`: the seed's clients were browsers and Node). */
export function chatClientId(namespace: string, userId: string): string {
  return clientIdOf(namespace, userId, 'web', CHAT_UUID);
}

/** The iOS device of a chat user, registered by `device/register` or REST: reached through APNs only. */
export function chatDeviceClientId(namespace: string, userId: string): string {
  return clientIdOf(namespace, userId, 'ios', CHAT_UUID);
}
