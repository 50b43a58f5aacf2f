/**
 * `application/x-www-form-urlencoded` bodies as the seed read them (express `body-parser`
 * `urlencoded({extended: true})`, i.e. the `qs` library): bracket keys build arrays and objects, so
 * jQuery's `$.post(url, {rooms: ["user_5"], event: "message", args: ["hi"]})` —
 * `rooms[]=user_5&event=message&args[]=hi` — is `{rooms: ["user_5"], event: "message", args: ["hi"]}`.
 * A subset of qs: `a=1`, `a[]=1`, `a[0]=1`, `a[b]=1` nested to MAX_DEPTH; at most MAX_PARAMETERS
 * pairs (qs's `parameterLimit`); keys that would reach an object's prototype are refused.
 */
export const MAX_PARAMETERS = 1000;
export const MAX_DEPTH = 5;

export class FormBodyError extends Error {
  override readonly name = 'FormBodyError';
}

type Node = Record<string, unknown> | unknown[];

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new FormBodyError('malformed percent-encoding');
  }
}

/** `a[b][]` → ['a', 'b', '']. */
function path(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\][]*)\]/y;
  let at = open;
  while (at < key.length) {
    re.lastIndex = at;
    const match = re.exec(key);
    // Text after or between the brackets: qs keeps it as one more segment; Herald refuses it as unclear.
    if (match === null) throw new FormBodyError(`unreadable key ${key.slice(0, 64)}`);
    parts.push(match[1]!);
    at = re.lastIndex;
  }
  if (parts.length === 1) return [key];
  if (parts.length - 1 > MAX_DEPTH) throw new FormBodyError(`key nested deeper than ${MAX_DEPTH}`);
  return parts;
}

function assign(target: Node, segments: string[], value: string): void {
  const [head, ...rest] = segments as [string, ...string[]];
  if (FORBIDDEN.has(head)) throw new FormBodyError(`key ${head} refused`);
  const isIndex = Array.isArray(target);
  if (isIndex && head !== '' && !/^\d{1,4}$/.test(head)) throw new FormBodyError('array and object keys mixed');
  if (rest.length === 0) {
    if (Array.isArray(target)) {
      if (head === '') target.push(value);
      else target[Number(head)] = value;
    } else if (head === '') {
      throw new FormBodyError('empty key');
    } else if (Object.hasOwn(target, head)) {
      // `a=1&a=2` is a list in qs.
      const existing = target[head];
      target[head] = Array.isArray(existing) ? [...existing, value] : [existing, value];
    } else {
      target[head] = value;
    }
    return;
  }
  const next = rest[0]!;
  const wantArray = next === '' || /^\d{1,4}$/.test(next);
  let child: unknown;
  if (Array.isArray(target)) {
    if (head === '') {
      child = wantArray ? [] : {};
      target.push(child);
    } else {
      child = target[Number(head)] ??= wantArray ? [] : {};
    }
  } else {
    if (head === '') throw new FormBodyError('empty key');
    child = Object.hasOwn(target, head) ? target[head] : (target[head] = wantArray ? [] : {});
  }
  if (child === null || typeof child !== 'object') throw new FormBodyError(`key ${head} given as a value and as a container`);
  assign(child as Node, rest, value);
}

/** Parses a form body; throws FormBodyError with a reason (never the body) when it cannot. */
export function parseFormBody(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (body.trim() === '') return { ...out };
  const pairs = body.split('&').filter((pair) => pair !== '');
  if (pairs.length > MAX_PARAMETERS) throw new FormBodyError(`more than ${MAX_PARAMETERS} parameters`);
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    if (key === '') continue;
    assign(out, path(key), value);
  }
  // Sparse arrays (`a[3]=x` alone) are compacted, as qs does.
  const compact = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.filter((item) => item !== undefined).map(compact);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compact(v)]));
    return value;
  };
  return compact(out) as Record<string, unknown>;
}
