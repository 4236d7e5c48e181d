import assert from "node:assert/strict";
import { openFileLimit, openFilesNeeded, recordsDue, summarizeTimings } from "./sim.ts";

Deno.test("recordsDue accumulates a fractional rate exactly", () => {
  // 0.2/s for 10 s: 2 records per device, even though 0.2 * 10 is 1.9999999999999998.
  assert.equal(recordsDue(0.2, 10_000), 2);
  assert.equal(recordsDue(0.2, 4_999), 0);
  assert.equal(recordsDue(0.2, 5_000), 1);
  assert.equal(recordsDue(0.3, 10_000), 3);
  assert.equal(recordsDue(0.1, 30_000), 3);
  assert.equal(recordsDue(1, 3_000), 3);
  assert.equal(recordsDue(10, 5_000), 50);
  assert.equal(recordsDue(0, 10_000), 0);
  assert.equal(recordsDue(0.2, 0), 0);
});

Deno.test("topping up to recordsDue on 100 ms ticks gives N × rate × duration", () => {
  for (const [rate, durationS] of [[0.2, 10], [0.7, 10], [1, 3], [2.5, 4], [0.05, 60]]) {
    const durationMs = durationS * 1000;
    let written = 0;
    // Ticks as the writer sees them: late, and with a few skipped; then the final top-up.
    for (let t = 100; t < durationMs; t += t % 700 === 0 ? 250 : 103) {
      written += recordsDue(rate, t) - written;
    }
    written += recordsDue(rate, durationMs) - written;
    assert.equal(written, Math.round(rate * durationS), `rate ${rate} for ${durationS} s`);
    const devices = 10_000;
    assert.equal(devices * written, Math.round(devices * rate * durationS));
  }
});

Deno.test("the open-file check asks for one socket per device plus headroom", async () => {
  assert.equal(openFilesNeeded(10_000), 11_024);
  const limit = await openFileLimit();
  if (Deno.build.os === "linux") assert.ok(limit === Infinity || (limit ?? 0) > 0);
});

Deno.test("timing summaries give mean, median, p95 and max", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(summarizeTimings(values), {
    count: 100,
    meanMs: 50.5,
    p50Ms: 51,
    p95Ms: 96,
    maxMs: 100,
  });
  assert.equal(summarizeTimings([]).count, 0);
});
