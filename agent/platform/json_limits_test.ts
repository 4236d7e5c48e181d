import assert from "node:assert/strict";
import { holdsAtMostValues, MAX_JSON_DEPTH, MAX_JSON_VALUES, nestsAtMost } from "./json_limits.ts";

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? { a: value } : [value];
  return value;
}

Deno.test("nestsAtMost counts objects and arrays alike, and scalars as no level", () => {
  assert.equal(nestsAtMost(1, 0), true);
  assert.equal(nestsAtMost({}, 1), true);
  assert.equal(nestsAtMost({ a: [1] }, 1), false);
  assert.equal(nestsAtMost({ a: [1] }, 2), true);
  assert.equal(nestsAtMost(nested(MAX_JSON_DEPTH)), true);
  assert.equal(nestsAtMost(nested(MAX_JSON_DEPTH + 1)), false);
});

Deno.test("nestsAtMost answers for a million levels without overflowing the stack", () => {
  const text = "[".repeat(1_000_000) + "]".repeat(1_000_000);
  assert.equal(nestsAtMost(JSON.parse(text)), false);
});

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("holdsAtMostValues counts values outside strings and stops over the limit", () => {
  assert.ok(holdsAtMostValues(bytes("1"), 1));
  assert.ok(holdsAtMostValues(bytes("[1,2,3]"), 4)); // the array and three elements
  assert.ok(!holdsAtMostValues(bytes("[1,2,3]"), 3));
  assert.ok(holdsAtMostValues(bytes('{"a":[{}]}'), 4));
  assert.ok(!holdsAtMostValues(bytes('{"a":[{}]}'), 3));
  // Commas, brackets and escaped quotes inside strings are text, not values.
  const tricky = JSON.stringify(["a,b,{[", "\\", '\\",[,']);
  assert.ok(holdsAtMostValues(bytes(tricky), 4));
  assert.ok(!holdsAtMostValues(bytes(tricky), 3));
});

Deno.test("holdsAtMostValues passes the largest valid bodies and refuses 8 MiB of tiny values", () => {
  const readings = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({
    sensor: `s${i}`,
    value: i + 0.5,
    unit: "C",
    ts: new Date(i).toISOString(),
  })));
  assert.ok(holdsAtMostValues(bytes(readings)));
  const eventData = JSON.stringify({ data: Array.from({ length: 64 * 1024 / 2 }, () => 0) });
  assert.ok(holdsAtMostValues(bytes(eventData)));
  const tiny = `[${Array(2_800_000).fill("{}").join(",")}]`;
  assert.ok(!holdsAtMostValues(bytes(tiny)));
  assert.ok(MAX_JSON_VALUES >= 100_000);
});
