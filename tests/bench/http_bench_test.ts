import assert from "node:assert/strict";
import { judge, MAX_SHARE_OF_CEILING } from "./http_bench.ts";
import type { WrkResult } from "./wrk.ts";

const run = (perSecond: number, errors = 0): WrkResult => ({
  requests: perSecond * 5,
  perSecond,
  p50Ms: 1,
  p99Ms: 2,
  errors,
});

Deno.test("a subject well below the generator's ceiling gets its ratio to the baseline", () => {
  const comparison = judge(run(100_000), run(60_000), run(30_000));
  assert.equal(comparison.ratio, 0.5);
  assert.equal(comparison.refused, undefined);
});

Deno.test("a subject above half the generator's ceiling gets no ratio, and says why", () => {
  const comparison = judge(run(50_000), run(40_000), run(30_000));
  assert.equal(comparison.ratio, undefined);
  assert.match(comparison.refused!, /0\.60 of the generator's ceiling/);
  assert.equal(MAX_SHARE_OF_CEILING, 0.5);
});

Deno.test("errors in the subject or the baseline void the ratio", () => {
  assert.match(judge(run(100_000), run(60_000), run(20_000, 3)).refused!, /errors/);
  assert.match(judge(run(100_000), run(60_000, 1), run(20_000)).refused!, /errors/);
});

Deno.test("a ceiling that answered errors is no ceiling: no ratio", () => {
  assert.match(judge(run(100_000, 5), run(60_000), run(20_000)).refused!, /ceiling 5/);
});
