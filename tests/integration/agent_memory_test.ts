// The agent process as deployed (`deno task agent`, with the runtime flags of
// agent/build/compile.ts): the largest bodies the API accepts still work, and the resident
// memory stays well under the DaemonSet's limit after a batch ingest (issue 9) and at its peak
// through a burst from many clients at once (issue 15).
import assert from "node:assert/strict";
import { DEFAULT_MAX_BODY_BYTES } from "@outpost/platform/json_body";
import { MAX_READINGS_PER_REQUEST } from "@outpost/agent/schemas";
import { componentPid, rssOf } from "../bench/sync.ts";
import { freePort, startTask, waitForOk } from "../support/process.ts";

/** The DaemonSet's memory limit (k8s/base/agent/daemonset/daemonset.yaml): 160 MiB. */
const POD_LIMIT_BYTES = 160 * 1024 * 1024;

/** The highest resident set size the process has had (`VmHWM`), in bytes. */
async function peakRssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

async function post(url: string, body: string): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

/** A body of the largest readings the schema allows, as many as one request may carry. */
function largestReadings(): string {
  return JSON.stringify(Array.from({ length: MAX_READINGS_PER_REQUEST }, (_, i) => ({
    sensor: `${"s".repeat(60)}${String(i % 1000).padStart(4, "0")}`,
    value: i + 0.123456789012345,
    unit: "u".repeat(16),
    ts: new Date(1_700_000_000_000 + i).toISOString(),
  })));
}

/** `[item,item,…]` filling the body limit exactly. */
function fillLimit(item: string): string {
  const count = Math.floor((DEFAULT_MAX_BODY_BYTES - 2 + 1) / (item.length + 1));
  const body = `[${Array(count).fill(item).join(",")}]`;
  assert.ok(body.length <= DEFAULT_MAX_BODY_BYTES && body.length > DEFAULT_MAX_BODY_BYTES - 64);
  return body;
}

Deno.test("the deployed agent takes max-size bodies and stays under the pod memory limit", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-mem-" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const agent = startTask("agent", {
    env: { OUTPOST_PORT: String(port), OUTPOST_DATA_DIR: dataDir, OUTPOST_LOG_LEVEL: "warn" },
  });
  try {
    await waitForOk(`${base}/readyz`, 60_000, agent);
    const pid = await componentPid(agent.pid, "agent/main.ts");
    const largest = largestReadings();
    for (let i = 0; i < 10; i++) {
      assert.equal(await post(`${base}/api/v1/readings`, largest), 201, "largest valid batch");
    }
    const rss = await rssOf(pid);
    assert.ok(rss > 0, "the agent's RSS is readable");
    assert.ok(
      rss < POD_LIMIT_BYTES,
      `RSS ${(rss / 1e6).toFixed(0)} MB after 100,000 max-size readings`,
    );

    // Bodies at the byte limit that would parse into millions of values: refused before
    // parsing (413), so the agent never holds them (they used to take it to 214-408 MB).
    for (const item of ["{}", "0", '{"sensor":"a","value":1}']) {
      assert.equal(await post(`${base}/api/v1/readings`, fillLimit(item)), 413, `[${item},…]`);
    }
    const afterWorst = await rssOf(pid);
    assert.ok(
      afterWorst < POD_LIMIT_BYTES,
      `RSS ${(afterWorst / 1e6).toFixed(0)} MB after 8 MiB bodies of tiny values`,
    );
    assert.equal(
      await post(`${base}/api/v1/readings`, `${" ".repeat(DEFAULT_MAX_BODY_BYTES - 1)}[]`),
      413,
      "one byte over the limit",
    );
    const ready = await fetch(`${base}/readyz`);
    await ready.body?.cancel();
    assert.equal(ready.status, 200, "still ready after the worst bodies");
    const stored = await (await fetch(`${base}/api/v1/sync`)).json();
    assert.equal(stored.pending, 10 * MAX_READINGS_PER_REQUEST);
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a burst of 200,000 readings from 20 clients at once keeps the agent's peak RSS under the pod limit", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-mem-burst-" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const agent = startTask("agent", {
    env: { OUTPOST_PORT: String(port), OUTPOST_DATA_DIR: dataDir, OUTPOST_LOG_LEVEL: "warn" },
  });
  try {
    await waitForOk(`${base}/readyz`, 60_000, agent);
    const pid = await componentPid(agent.pid, "agent/main.ts");
    const body = largestReadings();
    // All twenty at once: without a bound on the bodies worked on together the agent parsed and
    // validated them all in parallel and peaked at 166 MiB here (177 MiB with a cloud connected).
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () => post(`${base}/api/v1/readings`, body)),
    );
    assert.deepEqual(statuses, Array(20).fill(201));
    const peak = await peakRssOf(pid);
    assert.ok(peak > 0, "the agent's peak RSS is readable");
    assert.ok(
      peak < POD_LIMIT_BYTES,
      `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB during the burst (limit 160 MiB)`,
    );
    const stored = await (await fetch(`${base}/api/v1/sync`)).json();
    assert.equal(stored.pending, 20 * MAX_READINGS_PER_REQUEST, "every reading stored");
  } finally {
    await agent.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
