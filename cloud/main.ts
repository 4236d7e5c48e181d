/**
 * Entry point of the Outpost cloud: reads configuration and wires the running parts.
 * @module
 */
import { createLogger } from "../agent/lib/log.ts";
import { ConfigError } from "../agent/lib/settings.ts";
import { MigrationError } from "../agent/lib/sqlite.ts";
import { startCloud } from "./cloud.ts";
import { loadCloudConfig } from "./config.ts";

async function main(): Promise<number> {
  let config;
  try {
    config = loadCloudConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const logger = createLogger({ level: config.logLevel, fields: { component: "cloud" } });
  let cloud;
  try {
    // Fault injection for the test suites only; documented in docs/RELIABILITY.md.
    const crashAfterCommits = Number(Deno.env.get("OUTPOST_FAULT_CRASH_AFTER_COMMITS") ?? 0);
    cloud = await startCloud(config, logger, { crashAfterCommits });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    cloud.stop().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  try {
    await cloud.ready;
  } catch (error) {
    const message = error instanceof MigrationError ? error.message : String(error);
    logger.error("cannot start cloud", { error: message });
    await cloud.stop();
    return 1;
  }
  return await new Promise<number>(() => {}); // runs until a signal stops it
}

Deno.exit(await main());
