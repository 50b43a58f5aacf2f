import { Type, type Static } from '@sinclair/typebox';
import { patternMeaning } from '../annotations';
import { NAME_LIMITS, isValidName } from '../names';
import { RoomName } from '../schemas';

/**
 * The webservice protocol (seed 001, crossroads/socket.io-webservice): the namespace settings that
 * were a site of the seed's `sites.yml` (docs/protocols/webservice.md).
 */

/** An http(s) URL without credentials (they would show in logs and views). */
const HttpUrl = (description: string) =>
  Type.String({ maxLength: 2048, pattern: '^https?://[^\\s/?#@]+(?:[/?#]\\S*)?$', description, ...patternMeaning('must be an http(s) URL without credentials') });

/** No control character: the value goes into an HTTP header. */
const HEADER_TEXT = '^[^\\u0000-\\u001f\\u007f]*$';

/** Seed `device_ttl` default (config.yml, `DEVICE_TTL`): an hour. */
export const DEFAULT_DEVICE_TTL_S = 3600;
/** Highest `device_ttl` (ten years): the value becomes a Redis expiry in milliseconds. */
export const MAX_DEVICE_TTL_S = 10 * 365 * 24 * 3600;
/** The `Authorization` scheme when none is set (the seed's examples all use `Bearer`). */
export const DEFAULT_AUTH_SCHEME = 'Bearer';

export const WebserviceSettingsSchema = Type.Object(
  {
    auth_url: Type.Optional(HttpUrl('Seed `authUrl`: `GET` on every handshake with `Authorization: <auth_scheme> <token>` and `X-META: <meta>`; answers a JSON array of room names.')),
    auth_scheme: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, pattern: HEADER_TEXT, description: 'Seed `authScheme`, the first word of the `Authorization` header. Default `Bearer`.', ...patternMeaning('must not contain control characters') }),
    ),
    api_key: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, pattern: HEADER_TEXT, description: 'Seed `apiKey` of `POST /send`; stored hashed, never shown (`api_key_set: true`).', ...patternMeaning('must not contain control characters') }),
    ),
    user_room_prefix: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: NAME_LIMITS.room,
        pattern: RoomName.pattern!,
        description: 'Seed `userRoomPrefix`: rooms starting with it belong to one user; turns on the reliable per-device queue.',
        ...patternMeaning('must be the start of a room name'),
      }),
    ),
    update_user_url: Type.Optional(HttpUrl('Seed `updateUserUrl`: `PUT` with `{id, user:{last_connected|last_disconnected}}` on connect and disconnect; `:id` is replaced by the user id.')),
    public_channel: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: NAME_LIMITS.room,
        pattern: RoomName.pattern!,
        description: 'Seed `publicChannel`: a room treated as a user room (its devices get the queue too), without user updates.',
        ...patternMeaning('must be a room name'),
      }),
    ),
    device_ttl: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_DEVICE_TTL_S, description: 'Seconds a disconnected device keeps its queue; `0` keeps it for ever. Default 3600.' }),
    ),
  },
  { additionalProperties: false },
);
export type WebserviceSettingsInput = Static<typeof WebserviceSettingsSchema>;

/** The registry entry of the protocol settings (libs/wire/src/protocol-settings.ts). */
export const WEBSERVICE_SETTINGS_SPEC = Object.freeze({ schema: WebserviceSettingsSchema, hashed: Object.freeze(['api_key'] as const) });

/** A namespace's webservice settings with the defaults applied (the one place that applies them). */
export interface WebserviceSettings {
  readonly authUrl: string | undefined;
  readonly authScheme: string;
  /** The stored hash of `api_key` (verify with `verifySecret`); undefined: `/send` refuses every key. */
  readonly apiKeyHash: string | undefined;
  /** Undefined: no user rooms, no queue (broadcast only). */
  readonly userRoomPrefix: string | undefined;
  readonly updateUserUrl: string | undefined;
  readonly publicChannel: string | undefined;
  /** Seconds; 0 never expires. */
  readonly deviceTtl: number;
}

/**
 * Reads the stored protocol settings of a namespace defensively (a hand-edited value never breaks
 * a handshake): fields of the wrong type count as unset.
 */
export function webserviceSettings(stored: Readonly<Record<string, unknown>> | undefined): WebserviceSettings {
  const s = stored ?? {};
  const text = (key: string): string | undefined => (typeof s[key] === 'string' && s[key] !== '' ? (s[key] as string) : undefined);
  const ttl = s['device_ttl'];
  const prefix = text('user_room_prefix');
  const channel = text('public_channel');
  return Object.freeze({
    authUrl: text('auth_url'),
    authScheme: text('auth_scheme') ?? DEFAULT_AUTH_SCHEME,
    apiKeyHash: text('api_key'),
    userRoomPrefix: prefix,
    updateUserUrl: text('update_user_url'),
    publicChannel: channel !== undefined && isValidName('room', channel) ? channel : undefined,
    deviceTtl: typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl >= 0 && ttl <= MAX_DEVICE_TTL_S ? ttl : DEFAULT_DEVICE_TTL_S,
  });
}

/** Seed `isUserRoom`: the public channel, or a room starting with the prefix (only when a prefix is set). */
export function isWebserviceUserRoom(settings: Pick<WebserviceSettings, 'userRoomPrefix' | 'publicChannel'>, room: string): boolean {
  if (settings.userRoomPrefix === undefined) return false;
  return room === settings.publicChannel || room.startsWith(settings.userRoomPrefix);
}

/**
 * Seed `userRoomID`: the user id of a user room, as the seed took it (`room.split('_')[1]`), which
 * `update_user_url`'s `:id` is replaced by; the public channel has none.
 */
export function webserviceUserId(settings: Pick<WebserviceSettings, 'userRoomPrefix' | 'publicChannel'>, room: string): string | undefined {
  if (settings.userRoomPrefix === undefined || room === settings.publicChannel || !room.startsWith(settings.userRoomPrefix)) return undefined;
  return room.split('_')[1];
}

/**
 * Seed `args = [event].concat(body.args)`: an array is the list of arguments, anything else one
 * argument (an absent `args` is one `null`, as the seed's JSON wrote `undefined`).
 */
export function webserviceArgs(args: unknown): unknown[] {
  return Array.isArray(args) ? args : [args === undefined ? null : args];
}

/** Event names socket.io reserves: an emit of one throws, so `/send` refuses them. */
export const RESERVED_EVENT_NAMES: readonly string[] = Object.freeze(['connect', 'connect_error', 'disconnect', 'disconnecting', 'error', 'newListener', 'removeListener']);

/**
 * What logic tells the connectors after storing a message in device queues (inter-server event
 * `herald:webservice`): each connector emits it, with an ack callback, to its sockets of the
 * devices listed.
 */
export interface WebserviceDelivery {
  /** The entry id in every listed device queue. */
  readonly id: number;
  readonly event: string;
  readonly args: readonly unknown[];
  /** `resync` of the `/send`: the ack checks the entry is the head of its event's queue. */
  readonly resync: boolean;
  /** Device keys `<user room>|<deviceId>`. */
  readonly devices: readonly string[];
  /** When logic accepted it (ms since the epoch): the delivery and ack latency metrics. */
  readonly sendDate: number;
}

/** The key of a device: its user room and deviceId (`|` is in neither: names.ts). */
export function webserviceDeviceKey(userRoom: string, deviceId: string): string {
  return `${userRoom}|${deviceId}`;
}
