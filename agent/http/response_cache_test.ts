import assert from "node:assert/strict";
import { ResponseCache } from "./response_cache.ts";

Deno.test("a cached body is served only for the generation it was stored at", () => {
  const cache = new ResponseCache();
  cache.set("q", 1, "body-1");
  assert.equal(cache.get("q", 1), "body-1");
  assert.equal(cache.get("q", 2), undefined);
  assert.equal(cache.get("q", 1), undefined, "a stale entry is dropped");
});

Deno.test("the cache holds at most maxEntries, dropping the oldest", () => {
  const cache = new ResponseCache(2);
  cache.set("a", 1, "A");
  cache.set("b", 1, "B");
  cache.set("c", 1, "C");
  assert.equal(cache.size, 2);
  assert.equal(cache.get("a", 1), undefined);
  assert.equal(cache.get("c", 1), "C");
});

Deno.test("the cache holds at most maxBytes of bodies, dropping the oldest", () => {
  const cache = new ResponseCache(128, 40);
  cache.set("a", 1, "x".repeat(10));
  cache.set("b", 1, "y".repeat(10));
  cache.set("c", 1, "z".repeat(10));
  cache.set("d", 1, "w".repeat(10));
  assert.equal(cache.bytes, 40);
  cache.set("e", 1, "v".repeat(10));
  assert.equal(cache.bytes, 40);
  assert.equal(cache.size, 4);
  assert.equal(cache.get("a", 1), undefined, "the oldest went");
  assert.equal(cache.get("e", 1), "v".repeat(10));
  cache.set("e", 2, "u".repeat(5));
  assert.equal(cache.bytes, 35, "replacing an entry counts its new size only");
  assert.equal(cache.get("b", 2), undefined, "a stale entry is dropped");
  assert.equal(cache.bytes, 25);
});

Deno.test("a body over a quarter of the byte budget is served but not cached", () => {
  const cache = new ResponseCache(128, 40);
  cache.set("big", 1, "x".repeat(11));
  assert.equal(cache.get("big", 1), undefined);
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
  cache.set("ok", 1, "x".repeat(10));
  assert.equal(cache.get("ok", 1), "x".repeat(10));
});
