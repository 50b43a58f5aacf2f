import Ajv, { type ErrorObject } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';

/**
 * One Ajv instance for every runtime check of the wire contract. Herald rejects what does not
 * match: no type coercion, no stripping of unknown properties, no defaults filled in — a payload is
 * either exactly right or refused with the path of the first problem.
 */
export const ajv = new Ajv({
  allErrors: false,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  strict: true,
  // Keywords TypeBox emits for its own bookkeeping.
  keywords: ['kind', 'modifier'],
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
