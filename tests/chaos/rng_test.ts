import assert from "node:assert/strict";
import { createRng } from "./rng.ts";

Deno.test("the same seed gives the same sequence, and forks are reproducible too", () => {
  const a = createRng(42);
  const b = createRng(42);
  const draws = (rng: ReturnType<typeof createRng>) =>
    Array.from({ length: 20 }, () => rng.int(0, 1000));
  assert.deepEqual(draws(a), draws(b));
  assert.deepEqual(draws(a.fork()), draws(b.fork()));
  assert.notDeepEqual(draws(createRng(1)), draws(createRng(2)));
});

Deno.test("int stays within its inclusive bounds and reaches both ends", () => {
  const rng = createRng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const value = rng.int(3, 6);
    assert.ok(value >= 3 && value <= 6, `out of range: ${value}`);
    seen.add(value);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
});

Deno.test("shuffle keeps every element and pick refuses an empty array", () => {
  const rng = createRng(9);
  const items = Array.from({ length: 50 }, (_, i) => i);
  assert.deepEqual(rng.shuffle(items).sort((x, y) => x - y), items);
  assert.throws(() => rng.pick([]), /empty/);
});
