import assert from "node:assert/strict";
import { analyzeGrowth, readProcess, type Sample } from "./soak.ts";

function series(n: number, rssMb: (i: number) => number, fds: (i: number) => number = () => 30) {
  return Array.from({ length: n }, (_, i): Sample => ({
    t: i * 5,
    pid: 100,
    rssKb: rssMb(i) * 1024,
    fds: fds(i),
  }));
}

Deno.test("noisy but flat memory is judged stable", () => {
  const verdict = analyzeGrowth(series(60, (i) => 90 + (i % 7) * 3 - (i % 3) * 4));
  assert.equal(verdict.growing, false, verdict.reason);
  assert.equal(verdict.reason, "stable");
});

Deno.test("steady RSS growth after the warm-up is judged a leak", () => {
  const verdict = analyzeGrowth(series(60, (i) => 90 + i * 2));
  assert.equal(verdict.growing, true);
  assert.match(verdict.reason, /RSS grew/);
});

Deno.test("a warm-up climb followed by a plateau is not a leak", () => {
  const verdict = analyzeGrowth(series(60, (i) => (i < 10 ? 40 + i * 8 : 120)));
  assert.equal(verdict.growing, false, verdict.reason);
});

Deno.test("file descriptors that keep opening are judged a leak", () => {
  const verdict = analyzeGrowth(series(60, () => 90, (i) => 30 + i));
  assert.equal(verdict.growing, true);
  assert.match(verdict.reason, /open fds grew/);
});

Deno.test("only the longest-lived pid is judged, so a restart is not mistaken for growth", () => {
  const before = series(10, () => 300).map((s) => ({ ...s, pid: 1 }));
  const verdict = analyzeGrowth([...before, ...series(50, () => 80)]);
  assert.equal(verdict.growing, false, verdict.reason);
  assert.equal(verdict.samples, 50);
});

Deno.test("readProcess reads this process's RSS and fds from /proc", async () => {
  const reading = await readProcess(Deno.pid);
  assert.ok(reading && reading.rssKb > 1000 && reading.fds > 2, JSON.stringify(reading));
  assert.equal(await readProcess(2 ** 22 + 12345), undefined);
});
