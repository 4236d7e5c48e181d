import assert from "node:assert/strict";
import { MAX_JSON_DEPTH, nestsAtMost } from "./json_limits.ts";

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
