/**
 * The edge pod as it runs: the committed nginx sidecar config in front of the real agent
 * process. tests/manifests/nginx_test.ts checks nginx's own behaviour against a stub; this
 * checks that the agent's API and UI work through it.
 */
import assert from "node:assert/strict";
import { startAgentSidecar } from "../support/nginx.ts";
import { postJson } from "../support/process.ts";
import { startAgentProcess } from "../support/stack.ts";

Deno.test("through the nginx sidecar the real agent's API and UI work, with 413, 429 and cached assets", async (t) => {
  const agent = await startAgentProcess({ deviceId: "nginx-edge" });
  const upstreamPort = Number(new URL(agent.url).port);
  const nginx = await startAgentSidecar(upstreamPort);
  const base = nginx.url;
  try {
    await t.step("the API writes and reads through nginx", async () => {
      const readings = Array.from({ length: 500 }, (_, i) => ({
        sensor: "nginx",
        value: i,
        unit: "C",
      }));
      const written = await postJson(`${base}/api/v1/readings`, readings);
      assert.equal(written.status, 201, JSON.stringify(written.body));
      assert.equal((written.body as { accepted: number }).accepted, 500);
      const read = await fetch(`${base}/api/v1/readings?sensor=nginx&limit=1000`, {
        headers: { "accept-encoding": "gzip" },
      });
      assert.equal(read.status, 200);
      assert.equal(read.headers.get("content-encoding"), "gzip", "large JSON is compressed");
      assert.equal((await read.json()).items.length, 500);
      const sync = await (await fetch(`${base}/api/v1/sync`)).json();
      assert.equal(sync.state, "unenrolled");
      assert.equal(sync.pending, 500);
    });

    await t.step("the agent's own JSON errors pass through unchanged", async () => {
      const malformed = await fetch(`${base}/api/v1/readings`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{oops",
      });
      assert.equal(malformed.status, 400);
      assert.equal((await malformed.json()).error.code, "malformed_json");
    });

    let stylesheet = "";
    await t.step("the UI pages render through nginx", async () => {
      for (const path of ["/", "/readings", "/events", "/settings"]) {
        const page = await fetch(`${base}${path}`);
        const html = await page.text();
        assert.equal(page.status, 200, `${path}: ${html.slice(0, 200)}`);
        assert.match(page.headers.get("content-type") ?? "", /^text\/html/, path);
        assert.match(html, /<html/i, path);
        stylesheet ||= html.match(/href="(\/assets\/[^"]+\.css)"/)?.[1] ?? "";
      }
      assert.ok(stylesheet, "the pages link a hashed stylesheet under /assets/");
    });

    await t.step(
      "hashed assets carry the immutable cache headers and are cached by nginx",
      async () => {
        const direct = await (await fetch(`${agent.url}${stylesheet}`)).text();
        const cacheStates = [];
        for (let i = 0; i < 2; i++) {
          const asset = await fetch(`${base}${stylesheet}`);
          assert.equal(asset.status, 200);
          assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
          assert.match(asset.headers.get("content-type") ?? "", /^text\/css/);
          assert.equal(await asset.text(), direct);
          cacheStates.push(asset.headers.get("x-cache-status"));
        }
        assert.deepEqual(cacheStates, ["MISS", "HIT"]);
      },
    );

    await t.step(
      "an over-limit body gets 413 in the JSON envelope before reaching the agent",
      async () => {
        const tooLarge = await fetch(`${base}/api/v1/readings`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: new Uint8Array(8 * 1024 * 1024 + 1),
        });
        assert.equal(tooLarge.status, 413);
        assert.match(tooLarge.headers.get("content-type") ?? "", /^application\/json/);
        assert.equal((await tooLarge.json()).error.code, "payload_too_large");
      },
    );

    await t.step("a burst from one address gets 429 in the JSON envelope", async () => {
      const burst = await Promise.all(
        Array.from({ length: 60 }, async () => {
          const response = await fetch(`${base}/api/v1/sync`);
          return {
            status: response.status,
            type: response.headers.get("content-type") ?? "",
            body: await response.json(),
          };
        }),
      );
      const limited = burst.filter((response) => response.status === 429);
      const passed = burst.filter((response) => response.status === 200);
      console.log(
        `burst of ${burst.length}: ${passed.length} let through, ${limited.length} answered 429`,
      );
      assert.ok(passed.length > 0 && limited.length > 0);
      assert.equal(passed.length + limited.length, burst.length);
      for (const response of passed) assert.equal(response.body.state, "unenrolled");
      for (const response of limited) {
        assert.match(response.type, /^application\/json/);
        assert.equal(response.body.error.code, "rate_limited");
      }
    });
  } finally {
    const log = await nginx.stop();
    if (log.includes("[emerg]") || log.includes("[crit]")) console.error(log);
    await agent.process.stop();
    await Deno.remove(agent.dataDir, { recursive: true });
  }
});
