import Ajv, { type ErrorObject } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';
import { HERALD_KEYWORDS } from './annotations';

/**
 * One Ajv instance for every runtime check of the wire contract: the socket events of the
 * connector and every REST route of logic (its fastify validator compiler uses this instance).
 * Herald rejects what does not match: no type coercion, no stripping of unknown properties, no
 * defaults filled in — a payload is either exactly right or refused with the path of the first
 * problem. Every error is collected (`allErrors`) so that request-checks.ts can answer the one the
 * seed checked first; the lists and strings of every payload are bounded by its schema and the body
 * limit, which bounds that work too.
 */
export const ajv = new Ajv({
  allErrors: true,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  strict: true,
  // Errors carry their schema, for the `x-herald-pattern` text below.
  verbose: true,
  // Keywords TypeBox emits for its own bookkeeping, and Herald's annotations (request-checks.ts).
  keywords: ['kind', 'modifier', ...HERALD_KEYWORDS],
});

export interface Validator<T> {
  (value: unknown): value is T;
  /** A short, secret-free description of why the last call failed, e.g. `/id must be integer`. */
  lastError(): string;
}

export function describeAjvError(error: ErrorObject | undefined): string {
  if (!error) return 'invalid';
  const path = error.instancePath || '/';
  if (error.keyword === 'additionalProperties') {
    return `${path} has unknown field ${JSON.stringify(error.params['additionalProperty'])}`;
  }
  // A pattern is no message for a person: a schema may say what it means (annotations.ts).
  const meaning = (error.parentSchema as Record<string, unknown> | undefined)?.['x-herald-pattern'];
  if (error.keyword === 'pattern' && typeof meaning === 'string') return `${path} ${meaning}`;
  return `${path} ${error.message ?? 'invalid'}`;
}

export function compileValidator<S extends TSchema>(schema: S): Validator<Static<S>> {
  const check = ajv.compile(schema);
  let last = '';
  const validate = ((value: unknown): value is Static<S> => {
    const ok = check(value) as boolean;
    last = ok ? '' : describeAjvError(check.errors?.[0]);
    return ok;
  }) as Validator<Static<S>>;
  validate.lastError = () => last;
  return validate;
}
