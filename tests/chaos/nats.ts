/**
 * `--broker=nats`: a 3-node NATS JetStream cluster (MQTT listener, cluster routes, the Outpost
 * operator's JWT auth as `deno task nats:init` writes it) for the chaos suite. Each node runs in
 * a network namespace of its own on the chaos bridge (topology.ts), on the standard ports of
 * its own address, so one node can be killed, frozen or partitioned from the other two and from
 * every client while the rest of the system keeps going. Uplink (R3 stream and consumer) needs 2
 * of 3 nodes: the faults touch one node at a time (they share the `broker` lock).
 * @module
 */
import { join } from "node:path";
import { SigningKey } from "@outpost/cloud/broker/nats/nkey";
import { type NatsKeys, renderAuthConfig } from "@outpost/cloud/broker/nats/server_config";
import { spawnProcess } from "../support/process.ts";
import { FLEET_MQTT_SETTINGS, NATS_SERVER } from "../support/nats_cluster.ts";
import { Component, type ExitReport } from "./component.ts";
import type { BrokerNodeNet } from "./topology.ts";

/** Ports every node uses on its own address (each node has its own namespace). */
export const NATS_NODE_PORTS = { client: 4222, cluster: 6222, mqtt: 1883, monitor: 8222 };

/** How often the cloud looks for devices gone with their node (docs/CLOUD.md). */
export const CHAOS_PRESENCE_SWEEP = "5s";

/** The running cluster. */
export interface ChaosNats {
  /** One component per node, `nats-n0`…; a fault restarts it on the same address and data. */
  nodes: Component[];
  clientUrls: string[];
  mqttUrls: string[];
  /** The cloud's settings for this cluster. */
  cloudEnv: Record<string, string>;
  /**
   * What the full `/healthz` last said of a node that serves but was not wholly current within
   * {@link FULL_HEALTH_WAIT_MS} of its last start; undefined when it was.
   */
  healthNote(name: string): string | undefined;
}

/**
 * After a restart a node serves once its JetStream runs and follows the meta leader; the full
 * check (every stream and consumer current) is waited for this long at most: nats-server
 * 2.9.10 was seen calling an idle MQTT consumer "not current" for over 90 s while it served.
 */
export const FULL_HEALTH_WAIT_MS = 15_000;

/**
 * One node's config: JetStream, MQTT with the settings docs/CLOUD.md asks of a fleet, routes to
 * the other nodes, the auth include.
 */
export function renderChaosNodeConfig(
  node: BrokerNodeNet,
  all: BrokerNodeNet[],
  dir: string,
): string {
  const { client, cluster, mqtt, monitor } = NATS_NODE_PORTS;
  const routes = all.filter((other) => other !== node)
    .map((other) => `nats-route://${other.address}:${cluster}`);
  return [
    `server_name: n${node.index}`,
    `listen: ${node.address}:${client}`,
    `http: ${node.address}:${monitor}`,
    `jetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }`,
    `mqtt { listen: ${node.address}:${mqtt}, ${FLEET_MQTT_SETTINGS.join(", ")} }`,
    "cluster {",
    "  name: outpost-chaos",
    `  listen: ${node.address}:${cluster}`,
    `  routes: [${routes.join(", ")}]`,
    "}",
    "include auth.conf",
    "",
  ].join("\n");
}

/** Resolves once the node's `/healthz` answers 200 (JetStream current); throws if it exits. */
async function waitHealthy(
  name: string,
  url: string,
  process: { status: Promise<unknown>; output: string[] },
  timeoutMs: number,
): Promise<void> {
  let exited = false;
  process.status.then(() => exited = true);
  const deadline = performance.now() + timeoutMs;
  let last = "";
  while (performance.now() < deadline && !exited) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      last = `${response.status} ${await response.text()}`;
      if (response.ok) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `NATS node ${name} ${
      exited ? "exited" : `not healthy within ${timeoutMs} ms`
    } (last: ${last}):\n${process.output.slice(-15).join("\n")}`,
  );
}

/** Starts the three nodes (each in its namespace); resolves when every one is healthy. */
export async function startNats(options: {
  runDir: string;
  nodes: BrokerNodeNet[];
  execPrefix: (index: number) => string[];
  onExit: (report: ExitReport) => void;
}): Promise<ChaosNats> {
  const keys: NatsKeys = {
    operator: SigningKey.generate("operator"),
    systemAccount: SigningKey.generate("account"),
    account: SigningKey.generate("account"),
  };
  const components: Component[] = [];
  const notes = new Map<string, string>();
  for (const node of options.nodes) {
    const dir = join(options.runDir, "nats", `n${node.index}`);
    await Deno.mkdir(dir, { recursive: true });
    const config = join(dir, "server.conf");
    await Deno.writeTextFile(config, renderChaosNodeConfig(node, options.nodes, dir));
    await Deno.writeTextFile(
      join(dir, "auth.conf"),
      renderAuthConfig(keys, { resolverDir: join(dir, "jwt") }),
    );
    const monitorUrl = `http://${node.address}:${NATS_NODE_PORTS.monitor}`;
    components.push(
      new Component({
        name: `nats-n${node.index}`,
        url: monitorUrl,
        // `ip netns exec` execs nats-server: the pid (and its group) is the node's own.
        launch: () =>
          spawnProcess(
            options.execPrefix(node.index)[0],
            [...options.execPrefix(node.index).slice(1), NATS_SERVER, "-c", config],
            { cwd: dir },
          ),
        ready: async (process) => {
          const name = `nats-n${node.index}`;
          notes.delete(name);
          const health = `${monitorUrl}/healthz`;
          await waitHealthy(name, `${health}?js-server-only=true`, process, 90_000);
          await waitHealthy(name, health, process, FULL_HEALTH_WAIT_MS).catch((error: Error) => {
            notes.set(name, error.message.split("\n")[0]);
          });
        },
        direct: true,
        onExit: options.onExit,
      }),
    );
  }
  try {
    // Together: JetStream is healthy only once a meta leader is elected, which takes two.
    await Promise.all(components.map((component) => component.start()));
  } catch (error) {
    for (const component of components) {
      if (component.running) await component.kill("SIGKILL");
    }
    throw error;
  }
  const clientUrls = options.nodes.map((n) => `nats://${n.address}:${NATS_NODE_PORTS.client}`);
  const mqttUrls = options.nodes.map((n) => `mqtt://${n.address}:${NATS_NODE_PORTS.mqtt}`);
  return {
    nodes: components,
    clientUrls,
    mqttUrls,
    cloudEnv: {
      OUTPOST_BROKER: "nats",
      OUTPOST_NATS_URL: clientUrls.join(","),
      OUTPOST_MQTT_URL: mqttUrls.join(","),
      // Every node: agents get all three at enrollment and fail over between them.
      OUTPOST_MQTT_PUBLIC_URL: mqttUrls.join(","),
      OUTPOST_NATS_OPERATOR_SEED: keys.operator.seed,
      OUTPOST_NATS_ACCOUNT_SEED: keys.account.seed,
      OUTPOST_NATS_SYSTEM_ACCOUNT_SEED: keys.systemAccount.seed,
      OUTPOST_NATS_PRESENCE_SWEEP: CHAOS_PRESENCE_SWEEP,
    },
    healthNote: (name) => notes.get(name),
  };
}
