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
