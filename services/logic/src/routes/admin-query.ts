import { Type, type TObject, type Static } from '@sinclair/typebox';
import { Errors, HeraldError, compileValidator, isValidName } from '@herald/wire';
import type { NamespaceSettings, NamespaceStore } from '@herald/store';
import type { FastifySchemaCompiler } from 'fastify';
import { answers } from './responses';

/** `?namespace=/demo` of the admin console's routes: a namespace name, once. */
export const NamespaceQueryField = Type.String({ minLength: 1, maxLength: 64 });
/** A positive integer in a query string (the digits only; ranges are checked by the schema users). */
export const DigitsField = Type.String({ pattern: '^[0-9]{1,9}$' });

/**
 * A strict reader of one route's query string from its JSON schema: an unknown parameter, a
 * repeated one (an array) or a wrong shape is 400 QUERY_INVALID naming the parameter.
 */
export function queryReader<S extends TObject>(schema: S): (query: unknown) => Static<S> {
  const valid = compileValidator(schema);
  return (query) => {
    const q = query ?? {};
    if (!valid(q)) throw new HeraldError(Errors.QUERY_INVALID, valid.lastError());
    return q;
  };
}

/** The namespace an admin route names in `?namespace=`: a valid name of a registered namespace. */
export async function namedNamespace(namespaces: NamespaceStore, nsp: string | undefined): Promise<NamespaceSettings> {
  if (nsp === undefined || nsp === '') throw new HeraldError(Errors.NAMESPACE_EMPTY);
  if (!isValidName('namespace', nsp)) throw new HeraldError(Errors.NAMESPACE_INVALID);
  const settings = await namespaces.settings(nsp);
  if (!settings) throw new HeraldError(Errors.NAMESPACE_NOT_FOUND);
  return settings;
}

/** An integer query value within bounds (the schema checked the digits). */
export function boundedInteger(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (n < min || n > max) throw new HeraldError(Errors.QUERY_INVALID, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

/**
 * Route options of an admin console route: its schemas go into the OpenAPI document (tags, admin
 * security, query and body, every catalogue error) while the input is checked in the handler by the
 * same schemas (queryReader, compileValidator), which answer QUERY_INVALID / BODY_INVALID naming the
 * field as the console expects.
 */
export function consoleRoute(summary: string, schemas: { querystring?: TObject; body?: TObject } = {}) {
  const documentedOnly: FastifySchemaCompiler<unknown> = () => () => true;
  return {
    schema: { tags: ['console'], security: [{ admin: [] }], summary, ...schemas, response: answers(Type.Any(), { body: schemas.body !== undefined }) },
    validatorCompiler: documentedOnly,
  };
}
