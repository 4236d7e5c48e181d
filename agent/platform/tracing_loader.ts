/**
 * Starting tracing only when it is asked for: the one place that imports the OpenTelemetry
 * setup (`./tracing.ts`), and only then.
 * @module
 */
import { type LoadTracingOptions, NO_TRACING, type Tracing, tracingRequested } from "./trace.ts";

/**
 * The process's tracing: {@link NO_TRACING} unless {@link tracingRequested}, else the
 * OpenTelemetry SDK configured by the standard `OTEL_*` variables (loaded here, on demand).
 * @throws ConfigError for an `OTEL_*` value we cannot honour (e.g. the grpc protocol).
 */
export async function loadTracing(
  env: Record<string, string | undefined>,
  options: LoadTracingOptions,
): Promise<Tracing> {
  if (!tracingRequested(env)) return NO_TRACING;
  // A static specifier, so `deno compile` embeds the SDK.
  const { startTracing } = await import("./tracing.ts");
  return startTracing(env, options);
}
