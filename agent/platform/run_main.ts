/**
 * The shared shape of our entry points: `--help` prints the generated help and exits 0; read the
 * configuration (a bad setting exits 2 with one line), start tracing when `OTEL_*` asks for it,
 * start the component, stop gracefully on SIGINT/SIGTERM (flushing spans), exit 1 if it cannot get
 * ready.
 * @module
 */
import { createLogger, type Logger, type LogLevel } from "./log.ts";
import { ConfigError, wantsHelp } from "./settings.ts";
import { MigrationError } from "./sqlite.ts";
import type { Tracing } from "./trace.ts";
import { loadTracing } from "./tracing_loader.ts";
import { VERSION } from "./version.ts";

/** A started component. */
export interface RunningComponent {
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link runMain}. */
export interface RunMainOptions<C extends { logLevel: LogLevel }> {
  component: string;
  loadConfig: (args: string[], env: Record<string, string | undefined>) => C;
  start: (config: C, logger: Logger, tracing: Tracing) => Promise<RunningComponent>;
  /** Resource attributes of this process's spans (e.g. the device id). */
  traceResource?: (config: C) => Record<string, string>;
  /** The `--help` text (printed to stdout, exit 0). */
  help: () => string;
}

/** Runs a component until a signal stops it; resolves with the exit code for early failures. */
export async function runMain<C extends { logLevel: LogLevel }>(
  options: RunMainOptions<C>,
): Promise<number> {
  if (wantsHelp(Deno.args)) {
    console.log(options.help());
    return 0;
  }
  let config: C;
  try {
    config = options.loadConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const env = Deno.env.toObject();
  let tracing: Tracing;
  try {
    tracing = await loadTracing(env, {
      serviceName: `outpost-${options.component}`,
      serviceVersion: VERSION,
      resource: options.traceResource?.(config),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const logger = createLogger({
    level: config.logLevel,
    fields: { component: options.component },
    context: tracing.enabled ? tracing.logFields : undefined,
  });
  if (tracing.enabled) logger.info("tracing on", { service: env.OTEL_SERVICE_NAME });
  let running: RunningComponent;
  try {
    running = await options.start(config, logger, tracing);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    await tracing.shutdown();
    return 2;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    running.stop()
      .then(() => tracing.shutdown())
      .catch((error) => logger.warn("flushing spans failed", { error }))
      .then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  try {
    await running.ready;
  } catch (error) {
    const message = error instanceof MigrationError ? error.message : String(error);
    logger.error(`cannot start ${options.component}`, { error: message });
    await running.stop();
    await tracing.shutdown().catch(() => {});
    return 1;
  }
  return await new Promise<number>(() => {}); // runs until a signal stops it
}
