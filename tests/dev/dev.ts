/**
 * `deno task dev`: the whole stack on a laptop — the cloud with its embedded MQTT broker, one
 * agent enrolled to it, and a demo feed writing readings and the odd event. Ctrl-C stops all.
 *
 * The agent does not depend on the cloud: when the cloud stops (type `c` and Enter, or it
 * exits), the agent keeps running offline and queues writes; `c` again starts the cloud and
 * the agent catches up. `--no-cloud` runs the agent alone, unenrolled. `--help` lists the flags.
 * The embedded broker takes `--mqtt-port`, else OUTPOST_MQTT_PORT, else 1883, else a free port
 * when 1883 is taken (mqtt_port.ts): most IoT developers' machines already run a broker there.
 * @module
 */
import { join } from "node:path";
import { componentRunArgs } from "@outpost/platform/runtime_flags";
import { parseCli } from "../support/cli.ts";
import { startDemoFeed } from "./dev_feed.ts";
import { chooseMqttPort } from "./mqtt_port.ts";

const DEV_ENROLL_TOKEN = "dev-enroll-token-local-only";
const DEV_ADMIN_TOKEN = "dev-admin-token-local-only";

/** The flags of `deno task dev`. */
const DEV_CLI = {
  command: "deno task dev",
  summary: "The whole stack locally: the cloud with its embedded MQTT broker, one agent " +
    "enrolled to it (device dev-agent) and a demo feed writing readings.",
  options: {
    "cloud-port": { type: "string", default: "8080", value: "port", help: "The cloud's port." },
    // No default: an unset flag leaves the choice to OUTPOST_MQTT_PORT, then mqtt_port.ts.
    "mqtt-port": {
      type: "string",
      value: "port",
      help: "Port of the cloud's embedded MQTT broker (default: OUTPOST_MQTT_PORT, else 1883, " +
        "else a free port when 1883 is taken, and it says which).",
    },
    "agent-port": { type: "string", default: "8000", value: "port", help: "The agent's port." },
    "data-dir": {
      type: "string",
      default: ".data",
      value: "dir",
      help: "Where the cloud (<dir>/cloud) and the agent (<dir>/agent) keep their data.",
    },
    "no-cloud": {
      type: "boolean",
      help: "Run the agent alone, unenrolled (every local feature works; writes queue).",
    },
    "no-feed": { type: "boolean", help: "Do not write demo readings." },
  },
  notes: [
    "While it runs, type c and Enter to stop or start the cloud: the agent keeps running " +
    "offline, queues writes and uploads them when the cloud is back (the offline demo). " +
    "Ctrl-C stops everything. The admin token of the fleet console is " +
    `${DEV_ADMIN_TOKEN}.`,
  ],
} as const;

const values = parseCli(DEV_CLI);
const mqtt = chooseMqttPort({
  flag: values["mqtt-port"],
  env: Deno.env.get("OUTPOST_MQTT_PORT"),
  host: Deno.env.get("OUTPOST_HOST") || "127.0.0.1",
});
if (mqtt.note) console.error(mqtt.note);
const cloudUrl = `http://127.0.0.1:${values["cloud-port"]}`;
const agentUrl = `http://127.0.0.1:${values["agent-port"]}`;
let stopping = false;
const running: { agent?: Deno.ChildProcess } = {};
let cloud: Deno.ChildProcess | undefined;
const feed: { stop?: () => void } = {};

function start(name: "agent" | "cloud", env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: componentRunArgs(name, `${name}/main.ts`),
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
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

/** Starts the cloud; when it exits on its own the agent goes on offline. */
async function startCloud(): Promise<boolean> {
  const child = start("cloud", {
    OUTPOST_PORT: values["cloud-port"],
    OUTPOST_MQTT_PORT: mqtt.port,
    OUTPOST_DATA_DIR: join(values["data-dir"], "cloud"),
    OUTPOST_ENROLL_TOKEN: DEV_ENROLL_TOKEN,
    OUTPOST_ADMIN_TOKEN: DEV_ADMIN_TOKEN,
  });
  cloud = child;
  child.status.then((status) => {
    if (cloud !== child || stopping) return;
    cloud = undefined;
    console.error(
      `[dev] the cloud exited (code ${status.code}); the agent keeps running offline and ` +
        "queues writes. Type c and Enter to start the cloud again.",
    );
  });
  if (await waitReady(`${cloudUrl}/readyz`, 60_000)) return true;
  console.error(`[dev] the cloud did not become ready at ${cloudUrl}`);
  return false;
}

async function stopCloud(): Promise<void> {
  const child = cloud;
  if (!child) return;
  cloud = undefined;
  kill(child);
  await child.status;
  console.error(
    "[dev] cloud stopped. The agent keeps running offline: its dashboard shows the queue " +
      `growing at ${agentUrl}. Type c and Enter to start the cloud again.`,
  );
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
}

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    feed.stop?.();
    console.error("[dev] stopping");
    for (const child of [running.agent, cloud]) {
      if (!child) continue;
      kill(child);
      await child.status;
    }
  }
  Deno.exit(code);
}

/** `c` + Enter toggles the cloud; the rest of stdin is ignored. */
async function readCommands(): Promise<void> {
  const decoder = new TextDecoder();
  let toggling = false;
  for await (const chunk of Deno.stdin.readable) {
    for (const line of decoder.decode(chunk, { stream: true }).split("\n")) {
      if (line.trim().toLowerCase() !== "c" || toggling || stopping) continue;
      toggling = true;
      if (cloud) await stopCloud();
      else if (await startCloud()) console.error(`[dev] cloud back at ${cloudUrl}`);
      toggling = false;
    }
  }
}

Deno.addSignalListener("SIGINT", () => stopAll(0));
Deno.addSignalListener("SIGTERM", () => stopAll(0));

if (!values["no-cloud"] && !await startCloud()) await stopAll(1);
const agent = start("agent", {
  OUTPOST_PORT: values["agent-port"],
  OUTPOST_DATA_DIR: join(values["data-dir"], "agent"),
  OUTPOST_DEVICE_ID: "dev-agent",
  ...(values["no-cloud"] ? {} : {
    OUTPOST_CLOUD_URL: cloudUrl,
    OUTPOST_ENROLL_TOKEN: DEV_ENROLL_TOKEN,
  }),
});
running.agent = agent;
agent.status.then((status) => {
  if (stopping) return;
  console.error(`[dev] the agent exited with code ${status.code}; stopping the stack`);
  stopAll(1);
});
if (!await waitReady(`${agentUrl}/readyz`, 60_000)) {
  console.error(`[dev] the agent did not become ready at ${agentUrl}`);
  await stopAll(1);
}
if (!values["no-feed"]) feed.stop = startDemoFeed(agentUrl);
console.error(
  [
    "",
    `[dev] agent  ${agentUrl}  (API: ${agentUrl}/api/v1/readings, sync: ${agentUrl}/api/v1/sync)`,
    ...(values["no-cloud"] ? ["[dev] no cloud: the agent runs unenrolled (--no-cloud)"] : [
      `[dev] cloud  ${cloudUrl}  (fleet console; log in with the admin token ${DEV_ADMIN_TOKEN})`,
      `[dev] try:   curl -H 'authorization: Bearer ${DEV_ADMIN_TOKEN}' ${cloudUrl}/api/v1/devices`,
      "[dev] type c and Enter to stop or start the cloud (the agent keeps running offline)",
    ]),
    "[dev] Ctrl-C stops everything",
    "",
  ].join("\n"),
);
if (!values["no-cloud"]) readCommands().catch(() => {});
