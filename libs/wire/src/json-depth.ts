/**
 * Deepest nesting of objects and arrays Herald takes in a request or a socket payload. JSON.parse
 * reads any depth, but JSON.stringify (storing, publishing) and every recursive walk overflow the
 * stack a few thousand levels down: a 5 000-level `pushData` used to be a 500. No real message needs
 * more than a handful of levels.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests objects or arrays deeper than `max` (the value itself is level 1). Iterative: no recursion. */
export function jsonDepthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
