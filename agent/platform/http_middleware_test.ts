import assert from "node:assert/strict";
import { Hono } from "hono";
import { createLogger } from "./log.ts";
import { MetricsRegistry } from "./metrics.ts";
import {
  errorHandler,
  notFoundHandler,
  requestMetrics,
  securityHeaders,
} from "./http_middleware.ts";
import { HttpError } from "./http_error.ts";

function app(): { app: Hono; metrics: MetricsRegistry } {
  const metrics = new MetricsRegistry();
  const app = new Hono();
  app.onError(errorHandler(createLogger({ level: "error", write: () => {} })));
  app.notFound(notFoundHandler);
  app.use("*", securityHeaders());
  app.use("*", requestMetrics(metrics));
  app.get("/json", (c) => c.json({ ok: true }));
  app.get("/body", (c) => c.body("{}", 200, { "content-type": "application/json" }));
  app.get("/raw", () => new Response("<p>page</p>", { headers: { "content-type": "text/html" } }));
  app.get("/thrown", () => {
    throw new HttpError(422, "invalid", "bad");
  });
  app.get("/crash", () => {
    throw new Error("boom");
  });
  return { app, metrics };
}

Deno.test("every kind of response carries the security headers", async () => {
  const { app: subject } = app();
  for (
    const [path, status] of [
      ["/json", 200],
      ["/body", 200],
      ["/raw", 200],
      ["/thrown", 422],
      ["/crash", 500],
      ["/nowhere", 404],
    ] as const
  ) {
    const response = await subject.request(path);
    await response.body?.cancel();
    assert.equal(response.status, status, path);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(response.headers.get("referrer-policy"), "no-referrer", path);
    assert.equal(response.headers.get("x-frame-options"), "DENY", path);
  }
});

Deno.test("request metrics count by method, route and status, with unmatched paths folded", async () => {
  const { app: subject, metrics } = app();
  for (const path of ["/json", "/json", "/thrown", "/a", "/b"]) {
    await (await subject.request(path)).body?.cancel();
  }
  const text = await metrics.render();
  assert.match(text, /http_requests_total\{method="GET",route="\/json",status="200"\} 2/);
  assert.match(text, /http_requests_total\{method="GET",route="\/thrown",status="422"\} 1/);
  assert.match(text, /http_requests_total\{method="GET",route="unmatched",status="404"\} 2/);
  assert.match(text, /http_request_duration_seconds_count\{method="GET",route="\/json"\} 2/);
});
