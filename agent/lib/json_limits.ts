/**
 * Limits on the shape of free-form JSON we accept (event data, desired state, command args):
 * deeper nesting is not data but an attack on every parser, serializer and renderer after us.
 * @module
 */

/** The deepest nesting accepted in free-form JSON objects. */
export const MAX_JSON_DEPTH = 32;

/** True when `value` nests no deeper than `max` levels; iterative, so any depth is safe. */
export function nestsAtMost(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > max) return false;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return true;
}
