import assert from "node:assert/strict";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { ConfigError } from "./settings.ts";
import { NO_TRACING, tracingRequested } from "./trace.ts";
import { loadTracing } from "./tracing_loader.ts";
import { otlpProtocol, resourceAttributes, startTracing, tracesUrl } from "./tracing.ts";

const PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

Deno.test("tracing is on only when an OTLP endpoint or a traces exporter is set", () => {
  assert.equal(tracingRequested({}), false);
  assert.equal(tracingRequested({ OTEL_SERVICE_NAME: "x" }), false);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }), true);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c/t" }), true);
  assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: "console" }), true);
  assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: "none" }), false);
  assert.equal(
    tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_SDK_DISABLED: "true" }),
    false,
  );
});

Deno.test("with tracing off loadTracing gives NO_TRACING and spans just run the function", async () => {
  const tracing = await loadTracing({}, { serviceName: "t" });
  assert.equal(tracing, NO_TRACING);
  const seen = await tracing.inSpan("x", {}, (span) => span.traceparent ?? "none");
  assert.equal(seen, "none");
  assert.equal(tracing.logFields(), undefined);
});

Deno.test("bad OTEL_* values fail with one line naming the setting and the value", async () => {
  await assert.rejects(
    loadTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, {
      serviceName: "t",
    }),
    (error: Error) =>
      error instanceof ConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL/.test(error.message) &&
      /'grpc'/.test(error.message),
  );
  await assert.rejects(
    loadTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_TRACES_SAMPLER: "sometimes" }, {
      serviceName: "t",
    }),
    /OTEL_TRACES_SAMPLER must be .*'sometimes'/,
  );
  assert.throws(() => tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://c" }), /ftp:\/\/c/);
});

Deno.test("endpoint, protocol and resource attributes follow the OTLP variables", () => {
  assert.equal(
    tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }),
    "http://c:4318/v1/traces",
  );
  assert.equal(
    tracesUrl({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c/custom",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://d",
    }),
    "http://c/custom",
  );
  assert.equal(tracesUrl({}), "http://localhost:4318/v1/traces");
  assert.equal(otlpProtocol({}), "http/protobuf");
  assert.equal(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }), "http/json");
  assert.deepEqual(
    resourceAttributes({ OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=dev,team=a%20b" }),
    { "deployment.environment": "dev", team: "a b" },
  );
});

Deno.test("spans join a given traceparent, nest, link, and give log lines their ids", async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing({}, { serviceName: "unit", exporter });
  let inner: string | undefined;
  let logged: unknown;
  await tracing.inSpan("outer", { parent: PARENT, kind: "server" }, async () => {
    await tracing.inSpan("inner", {}, async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      inner = span.traceparent;
      logged = tracing.logFields();
    });
  });
  assert.equal(tracing.logFields(), undefined, "no span is active outside");
  const recorded = tracing.record("commit", {
    parent: inner,
    links: [PARENT],
    startTime: Date.now() - 5,
    endTime: Date.now(),
    attributes: { "outpost.records": 3 },
  });
  await tracing.flush();
  const spans = exporter.getFinishedSpans();
  const byName = Object.fromEntries(spans.map((span) => [span.name, span]));
  assert.equal(byName.outer.spanContext().traceId, TRACE_ID);
  assert.equal(byName.outer.parentSpanContext?.spanId, "b7ad6b7169203331");
  assert.equal(byName.inner.parentSpanContext?.spanId, byName.outer.spanContext().spanId);
  assert.equal(inner, `00-${TRACE_ID}-${byName.inner.spanContext().spanId}-01`);
  assert.deepEqual(logged, { trace_id: TRACE_ID, span_id: byName.inner.spanContext().spanId });
  assert.equal(byName.commit.parentSpanContext?.spanId, byName.inner.spanContext().spanId);
  assert.equal(byName.commit.links[0].context.traceId, TRACE_ID);
  assert.deepEqual(recorded, { trace_id: TRACE_ID, span_id: byName.commit.spanContext().spanId });
  await tracing.shutdown();
});

Deno.test("a span whose function throws is failed and the error passes through", async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing({}, { serviceName: "unit", exporter });
  await assert.rejects(
    tracing.inSpan("boom", { parent: null }, () => Promise.reject(new Error("disk full"))),
    /disk full/,
  );
  await tracing.flush();
  const [span] = exporter.getFinishedSpans();
  assert.equal(span.status.code, 2);
  assert.equal(span.status.message, "disk full");
  await tracing.shutdown();
});

Deno.test("an unsampled parent gives no traceparent to store (parent-based sampler)", async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing({}, { serviceName: "unit", exporter });
  const unsampled = PARENT.slice(0, -2) + "00";
  const traceparent = await tracing.inSpan("x", { parent: unsampled }, (span) => span.traceparent);
  assert.equal(traceparent, undefined);
  await tracing.shutdown();
});

/** A tiny OTLP receiver: records each POST's path, content type and body. */
function otlpReceiver() {
  const posts: { path: string; type: string | null; body: Uint8Array }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    posts.push({
      path: new URL(request.url).pathname,
      type: request.headers.get("content-type"),
      body: new Uint8Array(await request.arrayBuffer()),
    });
    return new Response(null, { status: 200 });
  });
  return { posts, server, endpoint: `http://127.0.0.1:${server.addr.port}` };
}

for (const protocol of ["http/json", "http/protobuf"] as const) {
  Deno.test(`the OTLP exporter delivers spans over ${protocol}`, async () => {
    const receiver = otlpReceiver();
    try {
      const tracing = await loadTracing({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      }, { serviceName: "unit-export" });
      await tracing.inSpan("exported", { parent: PARENT }, () => {});
      await tracing.shutdown();
      assert.equal(receiver.posts.length, 1);
      const post = receiver.posts[0];
      assert.equal(post.path, "/v1/traces");
      if (protocol === "http/json") {
        assert.equal(post.type, "application/json");
        const body = JSON.parse(new TextDecoder().decode(post.body));
        const span = body.resourceSpans[0].scopeSpans[0].spans[0];
        assert.equal(span.traceId, TRACE_ID);
        assert.equal(span.name, "exported");
      } else {
        assert.equal(post.type, "application/x-protobuf");
        // The trace id travels as its 16 raw bytes.
        const id = Uint8Array.from(TRACE_ID.match(/../g)!.map((hex) => parseInt(hex, 16)));
        const hex = (bytes: Uint8Array) =>
          Array.from(bytes, (b) => String.fromCharCode(b)).join("");
        assert.ok(hex(post.body).includes(hex(id)));
      }
    } finally {
      await receiver.server.shutdown();
    }
  });
}
