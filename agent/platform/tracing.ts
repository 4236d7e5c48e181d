/**
 * OpenTelemetry tracing set up from the standard `OTEL_*` variables: the SDK, the OTLP exporter
 * (`http/protobuf` or `http/json`), the sampler, the batch processor and W3C trace context.
 * Loaded only through `loadTracing` (`./tracing_loader.ts`) when tracing is asked for: importing this
 * module costs RSS that a process with tracing off must not pay.
 *
 * Honoured: `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_TRACES_EXPORTER`
 * (`otlp`, `console`, `none`), `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_TRACES_SAMPLER` (+ `_ARG`), `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT`,
 * `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_SDK_DISABLED`; the OTLP
 * exporter itself reads `OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`, `_COMPRESSION` and the
 * certificate variables.
 * @module
 */
import {
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind as OtelSpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { parseTraceParent } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ConfigError } from "./settings.ts";
import type {
  LoadTracingOptions,
  RecordedSpanOptions,
  SpanAttributes,
  SpanHandle,
  SpanKind,
  SpanOptions,
  TraceLogFields,
  Tracing,
} from "./trace.ts";

type Env = Record<string, string | undefined>;

/** The OTLP protocols we export with. `grpc` needs HTTP/2 client code we do not ship. */
export const OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;
/** One of {@link OTLP_PROTOCOLS}. */
export type OtlpProtocol = typeof OTLP_PROTOCOLS[number];

/** The most links one span gets; a batch of many writes links the first ones. */
export const MAX_LINKS = 128;

const KINDS: Record<SpanKind, OtelSpanKind> = {
  internal: OtelSpanKind.INTERNAL,
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
};

function fail(setting: string, value: string, allowed: string): never {
  throw new ConfigError(
    `Cannot start tracing: ${setting} must be ${allowed}: current value is '${value}'`,
  );
}

/** The OTLP protocol chosen by the environment (default `http/protobuf`, as the spec says). */
export function otlpProtocol(env: Env): OtlpProtocol {
  const setting = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const value = (env[setting] ?? "").trim() || "http/protobuf";
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(value)) {
    fail(setting, value, OTLP_PROTOCOLS.join(" or ") + " (grpc is not supported)");
  }
  return value as OtlpProtocol;
}

/** Where spans go: the traces endpoint as given, or the base endpoint plus `/v1/traces`. */
export function tracesUrl(env: Env): string {
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const setting = specific ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT";
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || "http://localhost:4318";
  const url = specific || base.replace(/\/+$/, "") + "/v1/traces";
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
  } catch {
    fail(setting, url, "an http:// or https:// URL");
  }
  return url;
}

function ratio(env: Env): number {
  const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (!raw) return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    fail("OTEL_TRACES_SAMPLER_ARG", raw, "a ratio from 0 to 1");
  }
  return value;
}

/** The sampler `OTEL_TRACES_SAMPLER` names (default `parentbased_always_on`). */
export function samplerFromEnv(env: Env): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? "").trim() || "parentbased_always_on";
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio(env));
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio(env)) });
    default:
      return fail(
        "OTEL_TRACES_SAMPLER",
        name,
        "always_on, always_off, traceidratio or parentbased_(always_on|always_off|traceidratio)",
      );
  }
}

function positiveInt(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) fail(name, raw, "a positive integer");
  return value;
}

/** `OTEL_RESOURCE_ATTRIBUTES`: `k=v,k2=v2`, values percent-encoded. */
export function resourceAttributes(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(
        pair.slice(at + 1).trim(),
      );
    } catch {
      fail("OTEL_RESOURCE_ATTRIBUTES", pair, "k=v pairs with percent-encoded values");
    }
  }
  return out;
}

async function otlpExporter(env: Env): Promise<SpanExporter> {
  const url = tracesUrl(env);
  // Static specifiers, so `deno compile` embeds both; only the one in use is loaded.
  if (otlpProtocol(env) === "http/json") {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    return new OTLPTraceExporter({ url });
  }
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
  return new OTLPTraceExporter({ url });
}

/** The exporters `OTEL_TRACES_EXPORTER` names (default `otlp`). */
async function exportersFromEnv(env: Env): Promise<SpanExporter[]> {
  const names = (env.OTEL_TRACES_EXPORTER ?? "").split(",").map((name) => name.trim())
    .filter((name) => name !== "");
  const exporters: SpanExporter[] = [];
  for (const name of names.length ? names : ["otlp"]) {
    if (name === "otlp") exporters.push(await otlpExporter(env));
    else if (name === "console") exporters.push(new ConsoleSpanExporter());
    else if (name !== "none") fail("OTEL_TRACES_EXPORTER", name, "otlp, console or none");
  }
  return exporters;
}

function attributes(values: SpanAttributes | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (values) {
    for (const [key, value] of Object.entries(values)) if (value !== undefined) out[key] = value;
  }
  return out;
}

/** The W3C `traceparent` of a span, or undefined when it is not sampled. */
function traceparentOf(span: Span): string | undefined {
  const { traceId, spanId, traceFlags } = span.spanContext();
  if ((traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
}

function parentContext(parent: string | null | undefined): Context {
  if (parent === undefined) return context.active();
  if (parent === null) return ROOT_CONTEXT;
  const spanContext = parseTraceParent(parent);
  return spanContext
    ? trace.setSpanContext(ROOT_CONTEXT, { ...spanContext, isRemote: true })
    : ROOT_CONTEXT;
}

function links(traceparents: readonly string[] | undefined): Link[] {
  const out: Link[] = [];
  for (const traceparent of traceparents ?? []) {
    if (out.length >= MAX_LINKS) break;
    const spanContext = parseTraceParent(traceparent);
    if (spanContext) out.push({ context: spanContext });
  }
  return out;
}

function handleOf(span: Span): SpanHandle {
  return {
    traceparent: traceparentOf(span),
    setAttributes: (values) => span.setAttributes(attributes(values)),
    updateName: (name) => span.updateName(name),
    fail(error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    },
  };
}

function idsOf(span: Span | undefined): TraceLogFields | undefined {
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext())
    ? { trace_id: traceId, span_id: spanId }
    : undefined;
}

let contextManagerInstalled = false;

/** Options of {@link startTracing} beyond the environment (tests use them). */
export interface StartTracingOptions extends LoadTracingOptions {
  /** Export here instead of what `OTEL_TRACES_EXPORTER` says. */
  exporter?: SpanExporter;
}

/**
 * Starts the SDK as the environment says and returns the {@link Tracing} backed by it.
 * @throws ConfigError naming the first `OTEL_*` value that cannot be used.
 */
export async function startTracing(env: Env, options: StartTracingOptions): Promise<Tracing> {
  const sampler = samplerFromEnv(env);
  const exporters = options.exporter ? [options.exporter] : await exportersFromEnv(env);
  const batch = {
    scheduledDelayMillis: positiveInt(env, "OTEL_BSP_SCHEDULE_DELAY"),
    exportTimeoutMillis: positiveInt(env, "OTEL_BSP_EXPORT_TIMEOUT"),
    maxQueueSize: positiveInt(env, "OTEL_BSP_MAX_QUEUE_SIZE"),
    maxExportBatchSize: positiveInt(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
  };
  const spanProcessors: SpanProcessor[] = exporters.map((exporter) =>
    new BatchSpanProcessor({ exporter, ...batch })
  );
  const provider = new TracerProvider({
    sampler,
    spanProcessors,
    resource: resourceFromAttributes({
      ...options.resource,
      ...resourceAttributes(env),
      "service.name": env.OTEL_SERVICE_NAME?.trim() || options.serviceName,
      ...(options.serviceVersion ? { "service.version": options.serviceVersion } : {}),
    }),
  });
  if (!contextManagerInstalled) {
    // The active span follows async calls (AsyncLocalStorage), so log lines find it.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerInstalled = true;
  }
  const tracer = provider.getTracer("outpost");

  function start(name: string, options: SpanOptions, startTime?: number) {
    const parent = parentContext(options.parent);
    const span = tracer.startSpan(name, {
      kind: KINDS[options.kind ?? "internal"],
      attributes: attributes(options.attributes),
      links: links(options.links),
      startTime: startTime === undefined ? undefined : new Date(startTime),
    }, parent);
    return { span, parent };
  }

  return {
    enabled: true,
    async inSpan(name, spanOptions, fn) {
      const { span, parent } = start(name, spanOptions);
      const handle = handleOf(span);
      try {
        return await context.with(trace.setSpan(parent, span), () => fn(handle));
      } catch (error) {
        handle.fail(error);
        throw error;
      } finally {
        span.end();
      }
    },
    record(name, spanOptions: RecordedSpanOptions) {
      const { span } = start(name, spanOptions, spanOptions.startTime);
      if (spanOptions.error !== undefined) handleOf(span).fail(spanOptions.error);
      span.end(new Date(spanOptions.endTime));
      return traceparentOf(span) ? idsOf(span) : undefined;
    },
    logFields: () => idsOf(trace.getActiveSpan()),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
