/**
 * Names that clients and third-party servers choose: namespaces, rooms, user ids and device uuids.
 *
 * The seed validated all of them with `key_reg: '^[\\\w.\\\d\-$#/]+$'` from a single-quoted YAML
 * string, which keeps the backslashes: word characters, `.`, `-`, `$`, `#`, `/` and a literal
 * backslash are allowed (spec/seed-behaviour.md, 002 "Config keys"). Herald keeps exactly that class
 * so that every name a seed client used is still accepted. None of these characters is `{`, `}`, `|`
 * or `:`, which the Redis key schema uses as separators and hash-tag delimiters.
 */
export const NAME_PATTERN = /^[\w.\-$#/\\]+$/;

/** Length limits of the seed config (`room_max_length` …, `namespace_max_length`). */
export const NAME_LIMITS = {
  namespace: 50,
  room: 100,
  userid: 100,
  uuid: 100,
} as const;

export type NameKind = keyof typeof NAME_LIMITS;

/** True when `value` is a string the seed would have accepted for a name of this kind. */
export function isValidName(kind: NameKind, value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= NAME_LIMITS[kind] &&
    NAME_PATTERN.test(value) &&
    (kind !== 'namespace' || value.startsWith('/'))
  );
}

export const PLATFORMS = ['web', 'android', 'ios'] as const;
export type Platform = (typeof PLATFORMS)[number];

export function isPlatform(value: unknown): value is Platform {
  return typeof value === 'string' && (PLATFORMS as readonly string[]).includes(value);
}

/** Every client is in the room of its user (seed `user_room_prefix`). */
export const USER_ROOM_PREFIX = 'user_';

export function userRoom(userid: string): string {
  return USER_ROOM_PREFIX + userid;
}

/**
 * `clientId = <namespace>#<userid>#<platform>-<uuid>`: built from what the client sends, so that the
 * data kept for a client does not depend on which connector holds its socket.
 *
 * `#` is legal in all three names and is also the separator, so a `#` inside the user id or the uuid
 * is written `%23` (`%` is never legal in a name, so the escape cannot be forged): the user id and
 * the uuid then hold no `#`, the last two `#` of a clientId are the separators, and whatever comes
 * before them is the namespace — one clientId names one (namespace, user, platform, device). A
 * clientId whose user id and uuid contain no `#` (every seed example) is unchanged
 * (docs/decisions.md, "Unambiguous client ids").
 */
export function clientIdOf(namespace: string, userid: string, platform: Platform, uuid: string): string {
  return `${namespace}#${escapeSeparator(userid)}#${platform}-${escapeSeparator(uuid)}`;
}

function escapeSeparator(name: string): string {
  return name.includes('#') ? name.replaceAll('#', '%23') : name;
}

/**
 * Human-readable names (a namespace's `name` …) are shown in admin views and logs: no C0 or C1
 * control character (CR/LF forge log lines, NUL cuts) and no bidi control (U+200E/U+200F,
 * U+202A–U+202E, U+2066–U+2069), which make a name display as another. As JSON-schema source.
 */
export const DISPLAY_NAME_PATTERN_SOURCE = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$';
