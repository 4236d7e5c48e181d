/**
 * Hostile values and mutations of valid inputs: wrong types, huge and non-finite numbers, deep
 * nesting, huge strings, bad UTF-8, prototype pollution keys, traversal strings, and raw-text
 * corruptions that no JSON encoder would produce.
 * @module
 */
import type { Rng } from "../rng.ts";

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Nested arrays `depth` deep, as text (building the value would itself overflow the stack). */
export function deepArrayText(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** Nested objects `depth` deep: `{"a":{"a":…}}`. */
export function deepObject(depth: number): Json {
  let value: Json = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Strings that have hurt parsers, routers, databases and logs before. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u0000\ufeff",
  "💥".repeat(2000),
  "x".repeat(65),
  "x".repeat(4001),
  "x".repeat(300_000),
  // Fits the agent's 8 MB body limit but no 2 MiB MQTT message: must never be stored.
  "x".repeat(2_500_000),
  "../../../../etc/passwd",
  "..\\..\\..\\windows\\win.ini",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "/dev/zero",
  "<script>alert(1)</script>",
  "' OR '1'='1' --",
  "'; DROP TABLE readings; --",
  "${jndi:ldap://127.0.0.1/x}",
  "{{7*7}}",
  "NaN",
  "Infinity",
  "-0",
  "1e999",
  "0x10",
  "true",
  "null",
  "__proto__",
  "constructor",
  "2026-02-30T00:00:00Z",
  "2026-13-45T25:61:61Z",
  "9999-12-31T23:59:59Z",
  "0000-01-01T00:00:00Z",
  "+275760-09-13T00:00:00.000Z",
  "-271821-04-20T00:00:00.000Z",
  "2026-11-26T00:00:00+99:99",
  "1970-01-01T00:00:00Z",
  "temp\nInjected: header",
  "outpost/v1/chaos-a0/up/batch",
  "#",
  "+",
  "a".repeat(64),
  "ok",
  "info",
  "critical",
  "ping",
  "resync",
  "set-log-level",
];

/** Numbers at and beyond every edge. */
export const HOSTILE_NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1.5,
  1e308,
  -1e308,
  5e-324,
  2 ** 31,
  2 ** 32 + 1,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.MAX_VALUE,
  1e21,
  123456789.123456789,
];

/** A hostile value of any type. */
export function hostileValue(rng: Rng): Json {
  switch (rng.int(0, 9)) {
    case 0:
    case 1:
    case 2:
      return rng.pick(HOSTILE_STRINGS);
    case 3:
    case 4:
      return rng.pick(HOSTILE_NUMBERS);
    case 5:
      return rng.pick([null, true, false] as Json[]);
    case 6:
      return rng.pick([[], {}, [1, 2, 3], [null], [[[]]], { "": "" }] as Json[]);
    case 7:
      return deepObject(rng.pick([50, 500, 3000, 20_000]));
    case 8:
      return JSON.parse(
        rng.pick([
          '{"__proto__":{"polluted":true}}',
          '{"constructor":{"prototype":{"polluted":true}}}',
          '{"toString":"x","valueOf":1,"hasOwnProperty":null}',
        ]),
      );
    default:
      return Array.from({ length: rng.pick([2, 100, 10_001]) }, (_, i) => i);
  }
}

function isObject(value: Json): value is { [key: string]: Json } {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Paths to every value inside `value` (keys and indexes), the root included as []. */
function paths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (prefix.length > 6) return out;
  if (Array.isArray(value)) {
    value.slice(0, 5).forEach((item, i) => paths(item, [...prefix, i], out));
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) paths(item, [...prefix, key], out);
  }
  return out;
}

function setAt(root: Json, path: (string | number)[], replacement: Json | undefined): Json {
  if (path.length === 0) return replacement ?? null;
  // A JSON round trip, not structuredClone: that overflows on values nested 5,000 deep.
  const copy = JSON.parse(JSON.stringify(root)) as Json;
  let parent: Json = copy;
  for (const step of path.slice(0, -1)) parent = (parent as Record<string, Json>)[step];
  const last = path[path.length - 1];
  if (replacement === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete (parent as Record<string, Json>)[last];
  } else {
    (parent as Record<string, Json>)[last] = replacement;
  }
  return copy;
}

/** JSON length of `value`, or Infinity when it is too deep to serialize here. */
function jsonLength(value: Json): number {
  try {
    return JSON.stringify(value).length;
  } catch {
    return Infinity;
  }
}

/** One or two structure-aware mutations of a valid JSON value. */
export function mutateValue(value: Json, rng: Rng): Json {
  const once = mutateOnce(value, rng);
  return rng.chance(0.15) ? mutateOnce(once, rng) : once;
}

function mutateOnce(value: Json, rng: Rng): Json {
  const all = paths(value);
  const path = rng.pick(all);
  switch (rng.int(0, 6)) {
    case 0:
    case 1:
    case 2:
      return setAt(value, path, hostileValue(rng));
    case 3:
      return path.length ? setAt(value, path, undefined) : value;
    case 4: {
      const objects = all.filter((p) => isObject(getAt(value, p)));
      const target = objects.length ? rng.pick(objects) : [];
      const extra = rng.pick(["extra", "__proto__", "seq", "id", "sensor", "constructor"]);
      const node = getAt(value, target);
      return isObject(node) ? setAt(value, [...target, extra], hostileValue(rng)) : value;
    }
    case 5: {
      // Many copies only of a small value: 10,001 copies of a 300 KB string is 3 GB.
      const copies = jsonLength(value) < 2000 ? rng.pick([1, 2, 10_001]) : 2;
      return Array.from({ length: copies }, () => value);
    }
    default:
      return rng.pick([{ wrapped: value }, [[value]], String(JSON.stringify(value))] as Json[]);
  }
}

function getAt(root: Json, path: (string | number)[]): Json {
  let node: Json = root;
  for (const step of path) node = (node as Record<string, Json>)?.[step] ?? null;
  return node;
}

/** Corruptions of serialized JSON that an encoder never produces. */
export function corruptText(text: string, rng: Rng): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const bytes = encoder.encode(text);
  switch (rng.int(0, 11)) {
    case 0:
      return bytes.slice(0, rng.int(0, bytes.length));
    case 1: {
      // Invalid UTF-8 spliced in: lone continuation bytes, overlong forms, surrogates.
      const bad = rng.pick([[0xff], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xed, 0xa0, 0x80], [
        0xc0,
        0xaf,
      ]]);
      const at = rng.int(0, bytes.length);
      return new Uint8Array([...bytes.slice(0, at), ...bad, ...bytes.slice(at)]);
    }
    case 2:
      return encoder.encode(
        text.replace(
          /-?\d+(\.\d+)?/,
          rng.pick(["1e999", "NaN", "-Infinity", "0x1F", "01", "1.", ".5", "+1"]),
        ),
      );
    case 3:
      return encoder.encode(`\ufeff${text}`);
    case 4:
      return encoder.encode(text.replace(/}$/, ",}").replace(/]$/, ",]"));
    case 5:
      return encoder.encode(`/* comment */ ${text.replaceAll('"', "'")}`);
    case 6:
      return encoder.encode(`${text}${rng.pick(["garbage", "\u0000", "}", "]]]", "{}", " \n"])}`);
    case 7:
      return encoder.encode(text.replace(/^\{/, '{"sensor":"a","sensor":"b",'));
    case 8:
      return encoder.encode(deepArrayText(rng.pick([1000, 100_000, 1_000_000])));
    case 9:
      return encoder.encode(rng.pick(["", " ", "null", "0", '""', "[]", "{}", "true"]));
    case 10: {
      // UTF-16 with a BOM: valid text, wrong encoding.
      const out = new Uint8Array(2 + text.length * 2);
      out[0] = 0xff;
      out[1] = 0xfe;
      for (let i = 0; i < text.length; i++) {
        out[2 + i * 2] = text.charCodeAt(i) & 0xff;
        out[3 + i * 2] = text.charCodeAt(i) >> 8;
      }
      return out;
    }
    default:
      return Uint8Array.from({ length: rng.int(1, 2048) }, () => rng.int(0, 255));
  }
}
