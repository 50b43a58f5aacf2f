import { Type, type Static } from '@sinclair/typebox';
import { checkOrder, onError } from './annotations';
import { Flag } from './push-request';

/**
 * The settings a client (socket `info`) or its server (`POST /api/auth/client`) may write on a
 * client record, with their limits: one definition for both ways in.
 */
export const CLIENT_SETTING_LIMITS = { device_token: 512, mobile: 32, system: 128 } as const;

/**
 * No C0 control character: these values end up in logs, admin views and APNs requests, where a
 * CR, LF or NUL forges lines or cuts the value.
 */
const NO_CONTROLS = '^[^\\u0000-\\u001f\\u007f]*$';

function settingText(field: keyof typeof CLIENT_SETTING_LIMITS, description: string) {
  const max = CLIENT_SETTING_LIMITS[field];
  return Type.String({ maxLength: max, pattern: NO_CONTROLS, description, ...onError({ detail: `${field} must be a string of at most ${max} characters` }) });
}

/** The setting fields, to compose into the payloads that carry them. */
export const ClientSettingFields = {
  device_token: Type.Optional(settingText('device_token', 'APNs device token (iOS).')),
  mobile: Type.Optional(settingText('mobile', 'Free text of the client.')),
  system: Type.Optional(settingText('system', 'The client system, e.g. `ios 17.2`.')),
  leaveMessage: Type.Optional(Type.Union(Flag.anyOf, { description: 'Keep messages for this client while it is offline.', ...onError({ error: 'LEAVE_MESSAGE_INVALID' }) })),
};

/** The socket `info` event: an optional `clientId` (which must be the socket's own) and settings. */
export const InfoPayload = Type.Object(
  { clientId: Type.Optional(Type.Unknown()), ...ClientSettingFields },
  { additionalProperties: false, ...checkOrder({ unknown: 'UNKNOWN_FIELD' }) },
);
export type InfoPayload = Static<typeof InfoPayload>;
