/**
 * Entry point of the Outpost agent: reads configuration and wires the running parts.
 * @module
 */
import { startAgent } from "./agent.ts";
import { loadAgentConfig } from "./config/config.ts";
import { createLogger } from "./lib/log.ts";
import { ConfigError } from "./lib/settings.ts";
import { MigrationError } from "./lib/sqlite.ts";

async function main(): Promise<number> {
  let config;
  try {
    config = loadAgentConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const logger = createLogger({ level: config.logLevel, fields: { component: "agent" } });
  let agent;
  try {
    agent = await startAgent(config, logger);
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
    agent.stop().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  try {
    await agent.ready;
  } catch (error) {
    const message = error instanceof MigrationError ? error.message : String(error);
    logger.error("cannot start agent", { error: message });
    await agent.stop();
    return 1;
  }
  return await new Promise<number>(() => {}); // runs until a signal stops it
}

Deno.exit(await main());
