import assert from "node:assert/strict";
import { join } from "node:path";
import { errorHandler, notFoundHandler } from "@outpost/platform/http_middleware";
import { createLogger } from "@outpost/platform/log";
import { Hono } from "hono";
import { assetRoutes, IMMUTABLE, loadAssets } from "./assets.ts";

function serve(assets: Awaited<ReturnType<typeof loadAssets>>) {
  const app = new Hono();
  app.onError(errorHandler(createLogger({ write: () => {} })));
  app.notFound(notFoundHandler);
  app.route("/", assetRoutes(assets));
  return app;
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "outpost-assets-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("built assets are served by hashed name with an immutable cache and their type", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "agent.aaaaaaaaaaaa.js"), "console.log(1)");
    await Deno.writeTextFile(join(dir, "app.bbbbbbbbbbbb.css"), "body{}");
    await Deno.writeTextFile(
      join(dir, "manifest.json"),
      JSON.stringify({ "agent.js": "agent.aaaaaaaaaaaa.js", "app.css": "app.bbbbbbbbbbbb.css" }),
    );
    const assets = await loadAssets({ buildDir: dir });
    assert.equal(assets.fallback, false);
    assert.equal(assets.href("agent.js"), "/assets/agent.aaaaaaaaaaaa.js");
    const app = serve(assets);
    const js = await app.request("/assets/agent.aaaaaaaaaaaa.js");
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(js.headers.get("cache-control"), IMMUTABLE);
    assert.equal(await js.text(), "console.log(1)");
    const css = await app.request("/assets/app.bbbbbbbbbbbb.css");
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    const missing = await app.request("/assets/agent.cccccccccccc.js");
    assert.equal(missing.status, 404);
    const body = await missing.json();
    assert.equal(body.error.code, "not_found");
    assert.match(body.error.message, /No asset named 'agent.cccccccccccc.js'/);
  });
});

Deno.test("without a build the stylesheet is served from source and there is no script", async () => {
  await withDir(async (dir) => {
    const css = join(dir, "app.css");
    await Deno.writeTextFile(css, "main{color:#111}");
    const logs: string[] = [];
    const assets = await loadAssets({
      buildDir: join(dir, "missing"),
      stylesheets: { "app.css": css },
      logger: createLogger({ write: (line) => logs.push(line) }),
    });
    assert.equal(assets.fallback, true);
    assert.equal(assets.href("agent.js"), undefined);
    const href = assets.href("app.css")!;
    assert.match(href, /^\/assets\/app\.[0-9a-f]{12}\.css$/);
    const response = await serve(assets).request(href);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "main{color:#111}");
    assert.ok(logs.some((line) => line.includes("deno task build:web")));
  });
});

Deno.test("a broken manifest is logged and treated like a missing build", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "manifest.json"), '{"agent.js":"../../etc/passwd"}');
    const logs: string[] = [];
    const assets = await loadAssets({
      buildDir: dir,
      stylesheets: {},
      logger: createLogger({ write: (line) => logs.push(line) }),
    });
    assert.equal(assets.fallback, true);
    assert.equal(assets.href("agent.js"), undefined);
    assert.ok(logs.some((line) => line.includes("unusable")));
    assert.ok(!(assets.get("../../etc/passwd")));
  });
});
