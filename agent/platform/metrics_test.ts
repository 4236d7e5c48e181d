import assert from "node:assert/strict";
import { MetricsRegistry, registerProcessMetrics } from "./metrics.ts";

Deno.test("registry renders counters with labels in Prometheus text format", async () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter("http_requests_total", "Requests.");
  requests.inc({ route: "/a", status: 200 });
  requests.inc({ status: 200, route: "/a" });
  requests.inc({ route: "/b", status: 404 });
  const text = await registry.render();
  assert.match(text, /# TYPE http_requests_total counter/);
  assert.match(text, /http_requests_total\{route="\/a",status="200"\} 2/);
  assert.match(text, /http_requests_total\{route="\/b",status="404"\} 1/);
});

Deno.test("histogram counts observations cumulatively per bucket", async () => {
  const registry = new MetricsRegistry();
  const duration = registry.histogram("d_seconds", "Durations.", [0.1, 1]);
  duration.observe(0.05);
  duration.observe(0.5);
  duration.observe(3);
  const text = await registry.render();
  assert.match(text, /d_seconds_bucket\{le="0.1"\} 1/);
  assert.match(text, /d_seconds_bucket\{le="1"\} 2/);
  assert.match(text, /d_seconds_bucket\{le="\+Inf"\} 3/);
  assert.match(text, /d_seconds_count 3/);
});

Deno.test("collected gauges are refreshed at render time", async () => {
  const registry = new MetricsRegistry();
  let pending = 5;
  registry.gauge("outbox_pending", "Pending.", (gauge) => gauge.set(pending));
  registerProcessMetrics(registry);
  assert.match(await registry.render(), /outbox_pending 5/);
  pending = 7;
  const text = await registry.render();
  assert.match(text, /outbox_pending 7/);
  assert.match(text, /process_resident_memory_bytes \d+/);
});

Deno.test("label values are escaped", async () => {
  const registry = new MetricsRegistry();
  registry.counter("c", "C.").inc({ route: 'a"b\\c' });
  assert.match(await registry.render(), /c\{route="a\\"b\\\\c"\} 1/);
});

Deno.test("a collected counter renders the totals read at scrape time as a counter", async () => {
  const registry = new MetricsRegistry();
  const stats = { sent: 3 };
  registry.counter("records_sent_total", "Sent.", (counter) => counter.set(stats.sent));
  stats.sent = 5;
  const text = await registry.render();
  assert.match(text, /# TYPE records_sent_total counter/);
  assert.match(text, /records_sent_total 5/);
});
