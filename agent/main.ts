/**
 * Entry point of the Outpost agent: reads configuration and wires the running parts.
 * @module
 */
import { startAgent } from "./agent.ts";
import { agentHelp, loadAgentConfig } from "./config/config.ts";
import { runMain } from "@outpost/platform/run_main";

Deno.exit(
  await runMain({
    component: "agent",
    loadConfig: loadAgentConfig,
    start: (config, logger, tracing) => startAgent(config, logger, { tracing }),
    traceResource: (config) => ({ "outpost.device.id": config.deviceId }),
    help: agentHelp,
  }),
);
