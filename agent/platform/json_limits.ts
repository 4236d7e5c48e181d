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

/**
 * The most JSON values a request body may hold. The largest valid bodies hold far fewer (10,000
 * readings of 4 fields: ~50,000; event data of 64 KiB: ~64,000), while 8 MiB of `[{},{},…]`
 * holds 2.8 million, which `JSON.parse` and validation turn into hundreds of MB: above the
 * agent pod's memory limit, so such a body would get the process killed instead of a 413.
 */
export const MAX_JSON_VALUES = 200_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * True when the JSON text in `bytes` holds at most `max` values, counted without parsing: one
 * for the top value plus one per `,` `{` `[` outside strings (an upper bound of the values and
 * keys). Linear and allocation-free; stops at the first value over the limit.
 */
export function holdsAtMostValues(bytes: Uint8Array, max: number = MAX_JSON_VALUES): boolean {
  let count = 1;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++; // the escaped byte cannot end the string
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === COMMA || byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++count > max) return false;
    }
  }
  return true;
}
