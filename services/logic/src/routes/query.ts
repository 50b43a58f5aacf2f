import { Errors, HeraldError, parseFlag } from '@herald/protocol';

/**
 * Query strings, read strictly: only the listed parameters, each once (unless listed as `repeatable`),
 * integers as integers, flags as `true`/`false`/`1`/`0`. Anything else is a 400 QUERY_INVALID that
 * names the parameter.
 */
export function readQuery(query: unknown, allowed: readonly string[], repeatable: readonly string[] = []): Record<string, string | string[]> {
  const q = (query ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(q)) {
    if (!allowed.includes(key)) throw new HeraldError(Errors.QUERY_INVALID, `unknown parameter ${key.slice(0, 64)}`);
    if (typeof value !== 'string' && !(repeatable.includes(key) && Array.isArray(value))) {
      throw new HeraldError(Errors.QUERY_INVALID, `${key} given more than once`);
    }
  }
  return q as Record<string, string | string[]>;
}

export function integerParam(value: string | string[] | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new HeraldError(Errors.QUERY_INVALID, `${name} must be an integer from ${min} to ${max}`);
  }
  return Number(value);
}

export function flagParam(value: string | string[] | undefined, name: string): boolean {
  if (value === undefined) return false;
  const flag = value === '1' ? true : value === '0' ? false : parseFlag(value);
  if (flag === undefined) throw new HeraldError(Errors.QUERY_INVALID, `${name} must be true or false`);
  return flag;
}
