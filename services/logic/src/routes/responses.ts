import { Type, type TSchema } from '@sinclair/typebox';
import { Errors, type CatalogueEntry } from '@herald/wire';

/** Catalogue entries a REST answer can carry (the handshake and socket event entries are not). */
const REST_ERRORS: readonly CatalogueEntry[] = Object.values(Errors).filter(
  (entry) => !entry.code.startsWith('HS_') && !['EVENT_PAYLOAD_INVALID', 'JOIN_ROOM_ERROR', 'FORBIDDEN', 'CLIENT_PUSH_LIMITED', 'INFO_INVALID', 'APNS_ROOMS_INVALID'].includes(entry.code),
);

/**
 * The body of every error answer: `{code, msg}` (libs/wire/src/errors.ts). Per status the
 * document lists the catalogue codes of that status and their messages; a route answers a subset.
 */
function errorBody(status: number): TSchema {
  const entries = REST_ERRORS.filter((entry) => entry.status === status);
  return Type.Object(
    {
      code: Type.String({ enum: entries.map((entry) => entry.code), description: 'Stable error code (docs/api.md).' }),
      msg: Type.String({ description: 'The catalogue message, sometimes followed by `: <detail>` naming the field.' }),
    },
    {
      additionalProperties: false,
      description: entries.map((entry) => `\`${entry.code}\`: ${entry.msg}`).join('; '),
      examples: [{ code: entries[0]!.code, msg: entries[0]!.msg }],
    },
  );
}

const ERROR_STATUSES = [...new Set(REST_ERRORS.map((entry) => entry.status))].sort();
const ERROR_BODIES = Object.fromEntries(ERROR_STATUSES.map((status) => [status, errorBody(status)])) as Record<number, TSchema>;

/** What can go wrong on any route: the request shape, authentication, the server. */
const COMMON = [400, 401, 404, 405, 429, 500, 503];
/** What can go wrong with a request body besides. */
const WITH_BODY = [413, 415];

/** The response schemas of a route: its success answer and every error status it can answer. */
export function answers<S extends TSchema>(ok: S, options: { body?: boolean } = {}) {
  const statuses = [...COMMON, ...(options.body ? WITH_BODY : [])].filter((status) => ERROR_BODIES[status]).sort();
  return { 200: ok, ...Object.fromEntries(statuses.map((status) => [status, ERROR_BODIES[status]!])) } as { 200: S } & Record<number, TSchema>;
}

/** `{}`: the answer of a successful change. */
export const Empty = Type.Object({}, { additionalProperties: false });
