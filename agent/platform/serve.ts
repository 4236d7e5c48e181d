/**
 * Starting an HTTP server with a clear error when the port is taken.
 * @module
 */
import { ConfigError } from "./settings.ts";

/** Options of {@link listen}. */
export interface ListenOptions {
  component: string;
  hostname: string;
  port: number;
  /** The setting that chose the port, named in errors (e.g. `OUTPOST_PORT`). */
  portSetting: string;
  handler: Deno.ServeHandler;
}

/** Starts `Deno.serve`; a port in use becomes a ConfigError naming the port and the setting. */
export function listen(options: ListenOptions): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
    }, options.handler);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new ConfigError(
        `Cannot start ${options.component}: port ${options.port} on ${options.hostname} is already in use; choose another with ${options.portSetting}`,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new ConfigError(
        `Cannot start ${options.component}: address ${options.hostname} is not available on this machine`,
      );
    }
    throw error;
  }
}
