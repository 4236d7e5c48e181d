/**
 * A small OTLP/HTTP receiver for tests: accepts `POST /v1/traces` in the JSON encoding
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) and keeps every span with its service name.
 * Protobuf posts are answered 415, so a test that forgot the protocol fails loudly.
 * @module
 */

/** A span as received, flattened. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  status?: { code?: number; message?: string };
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}

interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

function valueOf(value: OtlpValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  return value.boolValue;
}

function attributesOf(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));
}

/** Flattens an OTLP/JSON `ExportTraceServiceRequest` into spans. */
export function decodeOtlpJson(body: unknown): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  // deno-lint-ignore no-explicit-any
  for (const resourceSpans of (body as any).resourceSpans ?? []) {
    const service = String(attributesOf(resourceSpans.resource?.attributes)["service.name"]);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        spans.push({
          service,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          kind: span.kind,
          attributes: attributesOf(span.attributes),
          // deno-lint-ignore no-explicit-any
          links: (span.links ?? []).map((link: any) => ({
            traceId: link.traceId,
            spanId: link.spanId,
          })),
          status: span.status,
        });
      }
    }
  }
  return spans;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** What to put in `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  endpoint: string;
  spans: ReceivedSpan[];
  /** The spans of one trace. */
  inTrace(traceId: string): ReceivedSpan[];
  close(): Promise<void>;
}

/** Starts a receiver on a free loopback port. */
export function otlpReceiver(): OtlpReceiver {
  const spans: ReceivedSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces") {
      return new Response("not found", { status: 404 });
    }
    if (!request.headers.get("content-type")?.startsWith("application/json")) {
      await request.body?.cancel();
      return new Response("only http/json here", { status: 415 });
    }
    spans.push(...decodeOtlpJson(await request.json()));
    return Response.json({});
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans,
    inTrace: (traceId) => spans.filter((span) => span.traceId === traceId),
    close: () => server.shutdown(),
  };
}
