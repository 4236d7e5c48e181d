import assert from "node:assert/strict";
import { createBackoff } from "./backoff.ts";

Deno.test("backoff grows exponentially up to the cap and resets", () => {
  const backoff = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => backoff.next()), [100, 200, 400, 800, 1000, 1000]);
  backoff.reset();
  assert.equal(backoff.next(), 100);
});

Deno.test("backoff delays are jittered between half the initial delay and the ceiling", () => {
  const backoff = createBackoff({ initialMs: 100, maxMs: 10_000 });
  const delays = Array.from({ length: 200 }, () => {
    backoff.reset();
    for (let i = 0; i < 5; i++) backoff.next();
    return backoff.next();
  });
  assert.ok(delays.every((d) => d >= 50 && d <= 3200));
  assert.ok(new Set(delays).size > 20, "delays are not spread out");
});
