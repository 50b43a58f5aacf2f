import { Type } from '@sinclair/typebox';
import { onError } from '@herald/wire';

/**
 * Query parameters, as schemas. A query string carries text only: the validator compiler
 * (plugins/validation.ts) turns `^\d{1,9}$` into an integer and `true`/`false`/`1`/`0` into a
 * boolean for the parameters declared so, refuses unknown and repeated parameters, and leaves every
 * other value to the schema. The messages are the ones of the hand-written checks they replace.
 */
export function IntegerParam(name: string, min: number, max: number, fallback: number, description: string) {
  return Type.Optional(
    Type.Integer({ minimum: min, maximum: max, default: fallback, description, ...onError({ detail: `${name} must be an integer from ${min} to ${max}` }) }),
  );
}

export function FlagParam(name: string, description: string) {
  return Type.Optional(Type.Boolean({ default: false, description, ...onError({ detail: `${name} must be true or false` }) }));
}

export function TextParam(name: string, max: number, description: string) {
  return Type.Optional(Type.String({ maxLength: max, description, ...onError({ detail: `${name} must be at most ${max} characters` }) }));
}

/** A route without query parameters: any parameter is refused. */
export const NoQuery = Type.Object({}, { additionalProperties: false });
