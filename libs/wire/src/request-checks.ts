import type { ErrorObject } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';
import { Errors, HeraldError, type CatalogueEntry } from './errors';
import { ajv, describeAjvError } from './validator';

/** The part of a request a schema checks; each has its generic error. */
export type RequestPart = 'body' | 'query' | 'params';

const GENERIC: Record<RequestPart, CatalogueEntry> = {
  body: Errors.BODY_INVALID,
  query: Errors.QUERY_INVALID,
  params: Errors.PARAMS_INVALID,
};

const OBJECT_TEXT: Record<RequestPart, string> = {
  body: 'body must be a JSON object',
  query: 'query must be an object',
  params: 'params must be an object',
};

type SchemaNode = Record<string, unknown> & { properties?: Record<string, Record<string, unknown>> };

function entryOf(code: unknown): CatalogueEntry | undefined {
  return typeof code === 'string' ? (Errors as Record<string, CatalogueEntry>)[code] : undefined;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

/** The top-level field an Ajv error is about, `*` for an unknown field, `''` for the object itself. */
function fieldOf(error: ErrorObject): string {
  if (error.instancePath === '') {
    if (error.keyword === 'required') return String(error.params['missingProperty']);
    if (error.keyword === 'additionalProperties') return '*';
    return '';
  }
  const segment = error.instancePath.split('/')[1] ?? '';
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * The one catalogue error a request part is answered with, from every schema problem Ajv found:
 * the first check of the part's order (annotations.ts) that fails wins, so that a request with
 * several problems gets the error the seed gave. Unknown fields name themselves (cut to 64
 * characters), other problems the field's own error or, by default, the generic error of the part
 * with the path of the problem. No value is ever echoed.
 */
export function firstProblem(schema: TSchema, errors: readonly ErrorObject[], value: unknown, part: RequestPart): HeraldError {
  const generic = GENERIC[part];
  const root = schema as unknown as SchemaNode;
  if (errors.some((error) => error.instancePath === '' && error.keyword === 'type')) return new HeraldError(generic, OBJECT_TEXT[part]);
  const properties = root.properties ?? {};
  const data = (value ?? {}) as Record<string, unknown>;
  const order = [...((root['x-herald-order'] as string[] | undefined) ?? ['*'])];
  for (const name of Object.keys(properties)) if (!order.includes(name)) order.push(name);
  if (!order.includes('*')) order.unshift('*');
  const byField = new Map<string, ErrorObject[]>();
  for (const error of errors) {
    const field = fieldOf(error);
    byField.set(field, [...(byField.get(field) ?? []), error]);
  }

  const fieldProblem = (name: string, emptyOnly: boolean): HeraldError | undefined => {
    const found = byField.get(name);
    const field = properties[name];
    if (!found || !field) return undefined;
    const empty = entryOf(field['x-herald-empty']);
    if (empty && isEmpty(data[name])) return new HeraldError(empty);
    if (emptyOnly) return undefined;
    const entry = entryOf(field['x-herald-error']) ?? generic;
    const detail = field['x-herald-detail'];
    if (typeof detail === 'string') return new HeraldError(entry, detail);
    return entry === generic ? new HeraldError(entry, describeAjvError(found[0])) : new HeraldError(entry);
  };

  for (const step of order) {
    if (step === '*') {
      const unknown = byField.get('*')?.[0];
      if (!unknown) continue;
      const key = String(unknown.params['additionalProperty']).slice(0, 64);
      const entry = entryOf(root['x-herald-unknown']) ?? generic;
      if (entry === Errors.UNKNOWN_FIELD) return new HeraldError(entry, key);
      return new HeraldError(entry, part === 'query' ? `unknown parameter ${key}` : describeAjvError(unknown));
    }
    if (step === 'empty') {
      for (const name of Object.keys(properties)) {
        const problem = fieldProblem(name, true);
        if (problem) return problem;
      }
      continue;
    }
    const problem = fieldProblem(step, false);
    if (problem) return problem;
  }
  return new HeraldError(generic, describeAjvError(errors[0]));
}

/** A compiled check of a request part: the value when it passes, else its catalogue error. */
export type RequestCheck<S extends TSchema> = (value: unknown) => { value: Static<S> } | { error: HeraldError };

export function compileRequestCheck<S extends TSchema>(schema: S, part: RequestPart): RequestCheck<S> {
  const check = ajv.compile(schema);
  return (value) => (check(value) ? { value: value as Static<S> } : { error: firstProblem(schema, check.errors ?? [], value, part) });
}
