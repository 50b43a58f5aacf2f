import { Type, type TObject } from '@sinclair/typebox';
import type { ProtocolName } from './protocols';
import { compileValidator, type Validator } from './validator';
import { WEBSERVICE_SETTINGS_SPEC } from './protocols/webservice';
import { ROOMSYNC_SETTINGS } from './protocols/roomsync';
import { SESSIONS_SETTINGS_SPEC } from './protocols/sessions';
import { ChatSettings } from './protocols/chat';

/**
 * The settings a protocol adds to its namespaces (`settings` of the namespace save; docs/api.md
 * "Protocol settings"). Each protocol names its fields with a TypeBox object whose fields are all
 * optional (a save merges them into the stored ones), and which of them are secrets:
 * - `hashed`: stored as a hash (`hashSecret`), compared in constant time (`verifySecret`), never
 *   shown (an API key a server presents);
 * - `writeOnly`: stored as given because Herald needs the value (a URL with a password), never shown.
 * The API shows each secret that is set as `<field>_set: true`.
 */
export interface ProtocolSettingsSpec {
  readonly schema: TObject;
  readonly hashed?: readonly string[];
  readonly writeOnly?: readonly string[];
}

/** The settings of each protocol that has any (a protocol without an entry accepts none). */
export const PROTOCOL_SETTINGS: Readonly<Partial<Record<ProtocolName, ProtocolSettingsSpec>>> = Object.freeze({
  webservice: WEBSERVICE_SETTINGS_SPEC,
  roomsync: ROOMSYNC_SETTINGS,
  sessions: SESSIONS_SETTINGS_SPEC,
  chat: Object.freeze({ schema: ChatSettings }),
});

/** A JSON object of protocol settings as stored (`protocol_settings` of the namespace hash). */
export type ProtocolSettingsValues = Readonly<Record<string, unknown>>;

/** The spec accepting nothing: a protocol without settings. */
const NONE: ProtocolSettingsSpec = Object.freeze({ schema: Type.Object({}, { additionalProperties: false }) });

const validators = new Map<ProtocolName, Validator<unknown>>();

/** The settings spec of a protocol (an empty one when it has no settings). */
export function protocolSettingsSpec(protocol: ProtocolName, registry = PROTOCOL_SETTINGS): ProtocolSettingsSpec {
  return registry[protocol] ?? NONE;
}

/**
 * Checks a `settings` change for a protocol: every field known and of the right type, or `null`
 * (which removes the stored value). Returns a secret-free description of the first problem, or
 * undefined when the change is good.
 */
export function checkProtocolSettings(protocol: ProtocolName, change: Readonly<Record<string, unknown>>, registry = PROTOCOL_SETTINGS): string | undefined {
  const spec = protocolSettingsSpec(protocol, registry);
  const known = spec.schema.properties as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(change)) {
    if (!Object.hasOwn(known, field)) return `/${field} is not a setting of protocol ${protocol}`;
    if (value !== null) values[field] = value;
  }
  let check = registry === PROTOCOL_SETTINGS ? validators.get(protocol) : undefined;
  if (!check) {
    check = compileValidator(spec.schema);
    if (registry === PROTOCOL_SETTINGS) validators.set(protocol, check);
  }
  return check(values) ? undefined : check.lastError();
}

/**
 * The settings as the API shows them: secrets (hashed and write-only fields) replaced by
 * `<field>_set: true`, every other stored field as stored.
 */
export function publicProtocolSettings(protocol: ProtocolName, stored: ProtocolSettingsValues, registry = PROTOCOL_SETTINGS): Record<string, unknown> {
  const spec = protocolSettingsSpec(protocol, registry);
  const secret = new Set([...(spec.hashed ?? []), ...(spec.writeOnly ?? [])]);
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(stored)) {
    if (secret.has(field)) out[`${field}_set`] = true;
    else out[field] = value;
  }
  return out;
}
