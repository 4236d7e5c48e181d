import assert from "node:assert/strict";
import { secretsEqual } from "./constant_time.ts";

Deno.test("secretsEqual accepts the same secret and rejects any other", () => {
  assert.equal(secretsEqual("abc123", "abc123"), true);
  assert.equal(secretsEqual("abc124", "abc123"), false);
  assert.equal(secretsEqual("abc12", "abc123"), false);
  assert.equal(secretsEqual("", "abc123"), false);
});
