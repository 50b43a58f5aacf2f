import { Errors, HeraldError, ajv, compileRequestCheck, jsonDepthExceeds, type RequestPart } from '@herald/wire';
import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';

type SchemaNode = { type?: string; properties?: Record<string, { type?: string }> };

/**
 * A query string is text. Read it the way the hand-written checks did: unknown and repeated
 * parameters refused first, in the order given, then integers (`^\d{1,9}$`) and flags
 * (`true`/`false`/`1`/`0`) turned into numbers and booleans for the parameters declared so, a single
 * value of an array parameter turned into a list. Every other value goes to the schema as it came.
 */
function readQuery(schema: SchemaNode, query: unknown): { value: Record<string, unknown> } | { error: HeraldError } {
  const properties = schema.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    const type = Object.hasOwn(properties, key) ? properties[key]!.type : undefined;
    if (!Object.hasOwn(properties, key)) return { error: new HeraldError(Errors.QUERY_INVALID, `unknown parameter ${key.slice(0, 64)}`) };
    if (Array.isArray(value) && type !== 'array') return { error: new HeraldError(Errors.QUERY_INVALID, `${key} given more than once`) };
    if (type === 'integer' && typeof value === 'string' && /^\d{1,9}$/.test(value)) out[key] = Number(value);
    else if (type === 'boolean' && (value === 'true' || value === '1')) out[key] = true;
    else if (type === 'boolean' && (value === 'false' || value === '0')) out[key] = false;
    else if (type === 'array' && typeof value === 'string') out[key] = [value];
    else out[key] = value;
  }
  return { value: out };
}

const PARTS: Record<string, RequestPart> = { body: 'body', querystring: 'query', params: 'params' };

/**
 * Every route schema is compiled with Herald's one Ajv (libs/wire: no coercion, no stripping, no
 * defaults) and a failure is answered with its catalogue error, chosen in the seed's check order
 * (libs/wire/src/request-checks.ts). Fastify hands the `{error}` to the error handler as is.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const part = PARTS[httpPart ?? ''];
  if (part === undefined) {
    const check = ajv.compile(schema);
    return (value: unknown) => check(value);
  }
  const check = compileRequestCheck(schema, part);
  if (part !== 'query') return check;
  return (query: unknown) => {
    const read = readQuery(schema as SchemaNode, query);
    return 'error' in read ? read : check(read.value);
  };
};

export function validationPlugin(app: FastifyInstance): void {
  app.setValidatorCompiler(validatorCompiler);
  // Before any check: a body nested deeper than anything Herald stores would overflow the stack of
  // the first recursive walk (JSON.stringify when it is stored), a 500 instead of a 400.
  app.addHook('preValidation', async (request) => {
    if (request.body !== null && typeof request.body === 'object' && jsonDepthExceeds(request.body)) throw new HeraldError(Errors.JSON_TOO_DEEP);
  });
}
