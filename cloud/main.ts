/**
 * Entry point of the Outpost cloud: reads configuration and wires the running parts.
 * @module
 */
import { runMain } from "@outpost/platform/run_main";
import { startCloud } from "./cloud.ts";
import { cloudHelp, loadCloudConfig } from "./config.ts";

Deno.exit(
  await runMain({
    component: "cloud",
    loadConfig: loadCloudConfig,
    start: (config, logger, tracing) => startCloud(config, logger, { tracing }),
    help: cloudHelp,
  }),
);
