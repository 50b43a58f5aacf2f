import { Errors, type ErrorName } from './errors';

/**
 * Herald's schema annotations: vendor keywords that validation ignores and that say which catalogue
 * error a failing field is answered with, and in which order the fields are checked (the seed's
 * order, so that a request with several problems gets the message the seed gave). They stay in the
 * OpenAPI document, where they tell an SDK author the same thing. request-checks.ts reads them.
 */
export const HERALD_KEYWORDS = ['x-herald-error', 'x-herald-empty', 'x-herald-detail', 'x-herald-order', 'x-herald-unknown', 'x-herald-pattern'] as const;

/** Annotations of one field. */
export interface FieldAnnotation {
  /** The error when the field is present but wrong. Unset: the part's generic error (BODY_INVALID …). */
  readonly error?: ErrorName;
  /** The error when the field is missing, `null`, `''` or `[]`. Unset: `error`. */
  readonly empty?: ErrorName;
  /** Text appended to the error's message. Unset: the schema problem for the generic errors, nothing for the others. */
  readonly detail?: string;
}

/** Options to spread into a field's TypeBox options: `Type.String({ ...onError({ error: 'ROOM_INVALID' }) })`. */
export function onError(annotation: FieldAnnotation): Record<string, string> {
  const out: Record<string, string> = {};
  if (annotation.error !== undefined) out['x-herald-error'] = Errors[annotation.error].code;
  if (annotation.empty !== undefined) out['x-herald-empty'] = Errors[annotation.empty].code;
  if (annotation.detail !== undefined) out['x-herald-detail'] = annotation.detail;
  return out;
}

/** Annotations of a request part (an object schema). */
export interface PartAnnotation {
  /**
   * The order of the checks: field names, `*` for unknown fields, `empty` for the `empty` checks of
   * every field at once. Fields not named are checked after, in schema order.
   * @default ['*', ...the fields in schema order]
   */
  readonly order?: readonly string[];
  /** The error of an unknown field. Unset: the part's generic error. */
  readonly unknown?: ErrorName;
}

/** Options to spread into an object's TypeBox options. */
export function checkOrder(annotation: PartAnnotation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (annotation.order !== undefined) out['x-herald-order'] = [...annotation.order];
  if (annotation.unknown !== undefined) out['x-herald-unknown'] = Errors[annotation.unknown].code;
  return out;
}

/** What a string's `pattern` means, said in its error instead of the pattern: `must be a PEM block`. */
export function patternMeaning(text: string): Record<string, string> {
  return { 'x-herald-pattern': text };
}
