import assert from "node:assert/strict";
import { CloudProbe } from "./cloud_probe.ts";

/** A probe whose cloud answers as `up()` says, counting its probes. */
function probeOf(up: () => boolean, options: { spreadMs?: number } = {}) {
  const calls: string[] = [];
  const probe = new CloudProbe({
    cloudUrl: "http://cloud.test/",
    intervalMs: 20,
    spreadMs: options.spreadMs ?? 0,
    random: () => 0.5,
    fetch: (url) => {
      calls.push(url);
      return up()
        ? Promise.resolve(new Response('{"status":"ok"}'))
        : Promise.reject(new TypeError("connection refused"));
    },
  });
  return { probe, calls };
}

Deno.test("a wait ends early once the cloud answers after a probe saw it down", async () => {
  let up = false;
  const { probe, calls } = probeOf(() => up);
  setTimeout(() => up = true, 100);
  const started = Date.now();
  const outcome = await probe.wait(10_000, new AbortController().signal);
  assert.equal(outcome, "cloud_back");
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  assert.equal(calls[0], "http://cloud.test/healthz");
});

Deno.test("a cloud that answers all along never cuts the backoff short", async () => {
  const { probe, calls } = probeOf(() => true);
  const started = Date.now();
  assert.equal(await probe.wait(200, new AbortController().signal), "elapsed");
  assert.ok(Date.now() - started >= 195);
  assert.ok(calls.length >= 3, "it did probe");
});

Deno.test("a failure seen in an earlier wait counts until reset", async () => {
  let up = false;
  const { probe } = probeOf(() => up);
  assert.equal(await probe.wait(100, new AbortController().signal), "elapsed");
  up = true;
  assert.equal(await probe.wait(10_000, new AbortController().signal), "cloud_back");
  up = false;
  assert.equal(await probe.wait(60, new AbortController().signal), "elapsed");
  probe.reset();
  up = true;
  assert.equal(await probe.wait(100, new AbortController().signal), "elapsed", "after reset");
});

Deno.test("the return is spread randomly after the cloud is back, and a wait can be aborted", async () => {
  let up = false;
  const { probe } = probeOf(() => up, { spreadMs: 300 });
  setTimeout(() => up = true, 50);
  const started = Date.now();
  assert.equal(await probe.wait(10_000, new AbortController().signal), "cloud_back");
  assert.ok(Date.now() - started >= 150, "waited half the spread (random 0.5)");
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 30);
  assert.equal(await probe.wait(10_000, abort.signal), "aborted");
});
