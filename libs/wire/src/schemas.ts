import { Type, type Static } from '@sinclair/typebox';
import { NAME_LIMITS } from './names';

/** JSON-schema form of `NAME_PATTERN` (names.ts); Ajv compiles it with the `u` flag. */
const NAME_PATTERN_SOURCE = '^[\\w.\\-$#/\\\\]+$';

export const RoomName = Type.String({ minLength: 1, maxLength: NAME_LIMITS.room, pattern: NAME_PATTERN_SOURCE });

/** Message ids are positive integers; a client may echo one back as a decimal string. */
export const MessageId = Type.Union([
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  Type.String({ pattern: '^[1-9][0-9]{0,15}$' }),
]);

/** Arbitrary JSON object chosen by the third-party server. */
export const PushData = Type.Record(Type.String(), Type.Unknown());

// ---------------------------------------------------------------- client → server payloads

/** `joinRoom` / `leaveRoom`: one room name or a list of them (the seed accepted both). */
export const RoomsPayload = Type.Union([RoomName, Type.Array(RoomName, { minItems: 1, maxItems: 100 })]);
export type RoomsPayload = Static<typeof RoomsPayload>;

/** `ackPush {id}`. */
export const AckPushPayload = Type.Object({ id: MessageId }, { additionalProperties: false });
export type AckPushPayload = Static<typeof AckPushPayload>;

// ---------------------------------------------------------------- server → client payloads

/** `ok`, sent once the connection is fully set up. */
export const OkPayload = Type.Object(
  { system: Type.String(), port: Type.Integer(), clientId: Type.String() },
  { additionalProperties: false },
);
export type OkPayload = Static<typeof OkPayload>;

/**
 * `push`: what a client receives for every message (seed `emit_msg_pick_key`). `pushData` never
 * carries `apsData`, which is for APNs only.
 */
export const PushMessage = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    namespace: Type.String(),
    room: Type.String(),
    pushData: PushData,
    sendDate: Type.Integer(),
  },
  { additionalProperties: false },
);
export type PushMessage = Static<typeof PushMessage>;

/** The answer of an event that takes a callback: `{status:200,msg:'ok'}` or an error. */
export const EventAck = Type.Object(
  { status: Type.Integer(), msg: Type.String() },
  { additionalProperties: true },
);
export type EventAck = Static<typeof EventAck>;

export const KickoutPayload = Type.Object({ reason: Type.String() }, { additionalProperties: false });
export type KickoutPayload = Static<typeof KickoutPayload>;

/** A namespace key: a name starting with `/` (names.ts isValidName). */
export const NamespaceName = Type.String({ minLength: 1, maxLength: NAME_LIMITS.namespace, pattern: `^/${NAME_PATTERN_SOURCE.slice(1, -2)}*$` });
