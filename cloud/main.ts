/**
 * Entry point of the Outpost cloud: reads configuration and wires the running parts.
 * @module
 */
import { runMain } from "@outpost/platform/run_main";
import { startCloud } from "./cloud.ts";
import { loadCloudConfig } from "./config.ts";

// Fault injection for the test suites only; documented in docs/RELIABILITY.md.
const crashAfterCommits = Number(Deno.env.get("OUTPOST_FAULT_CRASH_AFTER_COMMITS") ?? 0);

Deno.exit(
  await runMain({
    component: "cloud",
    loadConfig: loadCloudConfig,
    start: (config, logger) => startCloud(config, logger, { crashAfterCommits }),
  }),
);
