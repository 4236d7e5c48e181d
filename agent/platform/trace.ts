/**
 * The tracing facade every component codes against: spans, W3C trace context and the ids a log
 * line carries. It imports nothing; the OpenTelemetry SDK behind it (`./tracing.ts`) is loaded
 * by `loadTracing` (`./tracing_loader.ts`) only when an `OTEL_*` variable asks for it, so a
 * process with tracing off neither loads the SDK (RSS) nor pays for spans (each call is a direct
 * call of `fn`).
 * @module
 */

/** Attribute values a span carries. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** What kind of span (OpenTelemetry span kinds). */
export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer";

/** Options of a span. */
export interface SpanOptions {
  kind?: SpanKind;
  attributes?: SpanAttributes;
  /**
   * The parent as a W3C `traceparent`: a remote caller's, or one stored with a record. Default:
   * the active span. `null`: a new trace, whatever is active.
   */
  parent?: string | null;
  /** Contexts this span follows from but is not a child of (`traceparent`s). */
  links?: readonly string[];
}

/** Options of {@link Tracing.record}: a span of work already done. */
export interface RecordedSpanOptions extends SpanOptions {
  /** Start and end, ms since the epoch. */
  startTime: number;
  endTime: number;
  error?: unknown;
}

/** A span while it runs. */
export interface SpanHandle {
  /** This span's W3C `traceparent`; undefined when it is not sampled (nothing to link to). */
  readonly traceparent: string | undefined;
  setAttributes(attributes: SpanAttributes): void;
  updateName(name: string): void;
  /** Marks the span failed (also done when the function given to `inSpan` throws). */
  fail(error: unknown): void;
}

/** Ids of a span as log lines carry them (a type, so it fits a log line's fields). */
export type TraceLogFields = { trace_id: string; span_id: string };

/** Spans of one process. */
export interface Tracing {
  /** False for {@link NO_TRACING}: callers may skip work that only feeds spans. */
  readonly enabled: boolean;
  /** Runs `fn` inside a new active span, ended when `fn` settles (failed when it throws). */
  inSpan<T>(
    name: string,
    options: SpanOptions,
    fn: (span: SpanHandle) => T | Promise<T>,
  ): Promise<T>;
  /** Records a finished span; returns its ids (undefined when not sampled). */
  record(name: string, options: RecordedSpanOptions): TraceLogFields | undefined;
  /** The active span's ids, for log lines; undefined when none is active. */
  logFields(): TraceLogFields | undefined;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

const NO_SPAN: SpanHandle = {
  traceparent: undefined,
  setAttributes() {},
  updateName() {},
  fail() {},
};

/** Tracing off: spans cost one function call and export nothing. */
export const NO_TRACING: Tracing = {
  enabled: false,
  async inSpan(_name, _options, fn) {
    return await fn(NO_SPAN);
  },
  record: () => undefined,
  logFields: () => undefined,
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/** Variables any of which turns tracing on (unless `OTEL_SDK_DISABLED=true`). */
export const TRACING_SWITCHES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_TRACES_EXPORTER",
] as const;

/**
 * True when the environment asks for traces: an OTLP endpoint or a traces exporter other than
 * `none`, and the SDK not disabled. `OTEL_SERVICE_NAME` alone does not turn tracing on.
 */
export function tracingRequested(env: Record<string, string | undefined>): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === "none") return false;
  return TRACING_SWITCHES.some((name) => (env[name] ?? "").trim() !== "");
}

/** Options of `loadTracing` (`./tracing_loader.ts`). */
export interface LoadTracingOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` sets one. */
  serviceName: string;
  serviceVersion?: string;
  /** More resource attributes (e.g. the device id). */
  resource?: Record<string, string>;
}
