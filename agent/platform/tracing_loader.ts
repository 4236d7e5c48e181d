/**
 * Starting tracing only when it is asked for: the one place that imports the OpenTelemetry
 * setup (`./tracing.ts`), and only then.
 * @module
 */
import { type LoadTracingOptions, NO_TRACING, type Tracing, tracingRequested } from "./trace.ts";

/** The OpenTelemetry setup module, relative to this one. */
export const TRACING_MODULE = "./tracing.ts";

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
  // Not a literal on purpose: Deno loads the module graph of a literal dynamic import at start,
  // which cost an agent with tracing off 1.5 MB of RSS (the SDK's sources). `deno compile`
  // embeds it through `--include` (agent/build/compile.ts: TRACING_MODULE).
  const specifier = TRACING_MODULE;
  const { startTracing } = await import(specifier) as typeof import("./tracing.ts");
  return startTracing(env, options);
}
