/**
 * `deno task dev`: the whole stack on a laptop — the cloud with its embedded MQTT broker, one
 * agent enrolled to it, and a demo feed writing readings and the odd event. Ctrl-C stops all.
 *
 * Ports: `--cloud-port` (8080), `--mqtt-port` (1883), `--agent-port` (8000). Data under `.data/`.
 * @module
 */
import { parseArgs } from "node:util";
import { componentRunArgs } from "@outpost/platform/runtime_flags";
import { startDemoFeed } from "./dev_feed.ts";

const DEV_ENROLL_TOKEN = "dev-enroll-token-local-only";
const DEV_ADMIN_TOKEN = "dev-admin-token-local-only";
function start(
  name: "agent" | "cloud",
  script: string,
  env: Record<string, string>,
): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: componentRunArgs(name, script),
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  child.status.then((status) => {
    if (!stopping) {
      console.error(`[dev] ${name} exited with code ${status.code}; stopping the stack`);
      stopAll(1);
    }
  });
  return child;
}

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "cloud-port": { type: "string", default: "8080" },
    "mqtt-port": { type: "string", default: "1883" },
    "agent-port": { type: "string", default: "8000" },
  },
});
let stopping = false;
const children: Deno.ChildProcess[] = [];
const feed: { stop?: () => void } = {};

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    feed.stop?.();
    console.error("[dev] stopping agent and cloud");
    for (const child of [...children].reverse()) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
    }
  }
  Deno.exit(code);
}

Deno.addSignalListener("SIGINT", () => stopAll(0));
Deno.addSignalListener("SIGTERM", () => stopAll(0));

const cloudUrl = `http://127.0.0.1:${values["cloud-port"]}`;
const agentUrl = `http://127.0.0.1:${values["agent-port"]}`;
children.push(start("cloud", "cloud/main.ts", {
  OUTPOST_PORT: values["cloud-port"]!,
  OUTPOST_MQTT_PORT: values["mqtt-port"]!,
  OUTPOST_DATA_DIR: ".data/cloud",
  OUTPOST_ENROLL_TOKEN: DEV_ENROLL_TOKEN,
  OUTPOST_ADMIN_TOKEN: DEV_ADMIN_TOKEN,
}));
if (!await waitReady(`${cloudUrl}/readyz`, 60_000)) {
  console.error(`[dev] the cloud did not become ready at ${cloudUrl}`);
  await stopAll(1);
}
children.push(start("agent", "agent/main.ts", {
  OUTPOST_PORT: values["agent-port"]!,
  OUTPOST_DATA_DIR: ".data/agent",
  OUTPOST_DEVICE_ID: "dev-agent",
  OUTPOST_CLOUD_URL: cloudUrl,
  OUTPOST_ENROLL_TOKEN: DEV_ENROLL_TOKEN,
}));
if (!await waitReady(`${agentUrl}/readyz`, 60_000)) {
  console.error(`[dev] the agent did not become ready at ${agentUrl}`);
  await stopAll(1);
}
feed.stop = startDemoFeed(agentUrl);
console.error(
  [
    "",
    `[dev] agent  ${agentUrl}  (API: ${agentUrl}/api/v1/readings, sync: ${agentUrl}/api/v1/sync)`,
    `[dev] cloud  ${cloudUrl}  (fleet console; log in with the admin token ${DEV_ADMIN_TOKEN})`,
    `[dev] try:   curl -H 'authorization: Bearer ${DEV_ADMIN_TOKEN}' ${cloudUrl}/api/v1/devices`,
    "[dev] Ctrl-C stops everything",
    "",
  ].join("\n"),
);
