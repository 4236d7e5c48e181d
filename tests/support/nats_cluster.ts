/**
 * A NATS JetStream cluster of 1 or 3 `nats-server` nodes for tests, on free loopback ports
 * (client, cluster routes, MQTT, monitoring) with JetStream and resolver dirs in a temp dir,
 * trusting a fresh Outpost operator (the same auth include `deno task nats:init` writes).
 * Nodes can be SIGKILLed and restarted on the same ports and data.
 * @module
 */
import { join } from "node:path";
import { SigningKey } from "@outpost/cloud/broker/nats/nkey";
import { type NatsKeys, renderAuthConfig } from "@outpost/cloud/broker/nats/server_config";
import { freePort, type RunningProcess, spawnProcess } from "./process.ts";

/** Where Debian installs nats-server; `NATS_SERVER` overrides. */
export const NATS_SERVER = Deno.env.get("NATS_SERVER") ?? "nats-server";

/** One node of a test cluster. */
export interface NatsNode {
  name: string;
  dir: string;
  ports: { client: number; cluster: number; mqtt: number; monitor: number };
  clientUrl: string;
  mqttUrl: string;
  process?: RunningProcess;
}

/** A running test cluster. */
export interface NatsCluster {
  nodes: NatsNode[];
  keys: NatsKeys;
  dir: string;
  clientUrls: string[];
  mqttUrls: string[];
  /** The cloud's settings for this cluster (OUTPOST_BROKER=nats and the rest). */
  cloudEnv(): Record<string, string>;
  /** SIGKILLs node `index` and waits until it is gone. */
  kill(index: number): Promise<void>;
  /**
   * Starts node `index` again (same ports and data) and waits until its JetStream runs and
   * follows the meta leader, then up to 10 s more for every stream and consumer to be current.
   * (nats-server 2.9.10's full `/healthz` kept calling an idle MQTT consumer "not current" for
   * over 90 s after a restart, while the node served clients; the full check is best effort.)
   * Returns what the full check last said when it was not healthy in time, else undefined.
   */
  restart(index: number): Promise<string | undefined>;
  /** Waits until every running node reports JetStream healthy. */
  healthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the temp dir. */
  stop(): Promise<void>;
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  nodes?: 1 | 3;
  keys?: NatsKeys;
  /** Readiness timeout per node start; default 30 s. */
  timeoutMs?: number;
  /** Extra lines of the `mqtt {}` block; default {@link FLEET_MQTT_SETTINGS}. */
  mqtt?: string[];
}

/**
 * MQTT settings for fleets: each QoS 1 subscription of an MQTT session is a JetStream consumer
 * in nats-server 2.9, by default replicated like the streams (a Raft group per device with 3
 * nodes). One replica in memory is what a fleet of thousands can afford; the downlink does not
 * depend on it (the cloud re-sends ack, desired state and open commands whenever a device
 * announces itself).
 */
export const FLEET_MQTT_SETTINGS = ["consumer_replicas: 1", "consumer_memory_storage: true"];

/** Throws naming what is missing when nats-server cannot run here. */
export async function requireNatsServer(): Promise<string> {
  try {
    const output = await new Deno.Command(NATS_SERVER, { args: ["--version"] }).output();
    return new TextDecoder().decode(output.stdout).trim();
  } catch (error) {
    throw new Error(
      `nats-server is required (apt-get install -y nats-server, or set NATS_SERVER): ${
        (error as Error).message
      }`,
    );
  }
}

/** Throws naming the node, the setting and the port when a port is in use. */
function checkPortFree(node: NatsNode, setting: string, port: number): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (error) {
    throw new Error(
      `Cannot start NATS node ${node.name}: port ${port} (${setting}) is in use: ${
        (error as Error).message
      }`,
    );
  }
}

/** The config file of one node. */
export function renderNodeConfig(
  node: NatsNode,
  all: NatsNode[],
  mqtt: string[] = FLEET_MQTT_SETTINGS,
): string {
  const routes = all.filter((other) => other !== node)
    .map((other) => `nats-route://127.0.0.1:${other.ports.cluster}`);
  return [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.ports.client}`,
    `http: 127.0.0.1:${node.ports.monitor}`,
    `jetstream { store_dir: ${JSON.stringify(join(node.dir, "js"))} }`,
    "mqtt {",
    `  listen: 127.0.0.1:${node.ports.mqtt}`,
    ...mqtt.map((line) => `  ${line}`),
    "}",
    ...(all.length > 1
      ? [
        "cluster {",
        "  name: outpost",
        `  listen: 127.0.0.1:${node.ports.cluster}`,
        `  routes: [${routes.join(", ")}]`,
        "}",
      ]
      : []),
    "include auth.conf",
    "",
  ].join("\n");
}

/**
 * Polls the node's `/healthz` until it answers 200. `query` narrows the check:
 * `js-server-only=true` asks only whether the node's JetStream runs and follows the meta leader.
 */
async function waitHealthy(node: NatsNode, timeoutMs: number, query = ""): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const exited = node.process && await Promise.race([
      node.process.status.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 0)),
    ]);
    if (exited) {
      throw new Error(
        `NATS node ${node.name} exited at start:\n${node.process!.output.slice(-20).join("\n")}`,
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${node.ports.monitor}/healthz${query}`);
      last = await response.text();
      if (response.ok) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `NATS node ${node.name} not healthy within ${timeoutMs} ms (last: ${last})\n${
      node.process?.output.slice(-20).join("\n") ?? ""
    }`,
  );
}

/** Starts a cluster; every node healthy when it resolves. */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  await requireNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "outpost-nats-" });
  const keys = options.keys ?? {
    operator: SigningKey.generate("operator"),
    systemAccount: SigningKey.generate("account"),
    account: SigningKey.generate("account"),
  };
  const timeoutMs = options.timeoutMs ?? 30_000;
  const nodes: NatsNode[] = [];
  // freePort() may hand out a port twice (each is free once closed again): keep them distinct.
  const taken = new Set<number>();
  const port = () => {
    for (;;) {
      const candidate = freePort();
      if (!taken.has(candidate)) {
        taken.add(candidate);
        return candidate;
      }
    }
  };
  for (let i = 1; i <= (options.nodes ?? 1); i++) {
    const ports = { client: port(), cluster: port(), mqtt: port(), monitor: port() };
    nodes.push({
      name: `n${i}`,
      dir: join(dir, `n${i}`),
      ports,
      clientUrl: `nats://127.0.0.1:${ports.client}`,
      mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    });
  }
  for (const node of nodes) {
    await Deno.mkdir(node.dir, { recursive: true });
    await Deno.writeTextFile(
      join(node.dir, "server.conf"),
      renderNodeConfig(node, nodes, options.mqtt),
    );
    await Deno.writeTextFile(
      join(node.dir, "auth.conf"),
      renderAuthConfig(keys, { resolverDir: join(node.dir, "jwt") }),
    );
  }
  const launch = (node: NatsNode) => {
    checkPortFree(node, "listen (client)", node.ports.client);
    checkPortFree(node, "cluster.listen (routes)", node.ports.cluster);
    checkPortFree(node, "mqtt.listen", node.ports.mqtt);
    checkPortFree(node, "http (monitoring)", node.ports.monitor);
    node.process = spawnProcess(NATS_SERVER, ["-c", join(node.dir, "server.conf")], {
      cwd: node.dir,
    });
  };
  const cluster: NatsCluster = {
    nodes,
    keys,
    dir,
    clientUrls: nodes.map((node) => node.clientUrl),
    mqttUrls: nodes.map((node) => node.mqttUrl),
    cloudEnv: () => ({
      OUTPOST_BROKER: "nats",
      OUTPOST_NATS_URL: cluster.clientUrls.join(","),
      OUTPOST_MQTT_URL: cluster.mqttUrls.join(","),
      OUTPOST_MQTT_PUBLIC_URL: cluster.mqttUrls.join(","),
      OUTPOST_NATS_OPERATOR_SEED: keys.operator.seed,
      OUTPOST_NATS_ACCOUNT_SEED: keys.account.seed,
      OUTPOST_NATS_SYSTEM_ACCOUNT_SEED: keys.systemAccount.seed,
    }),
    async kill(index) {
      const node = nodes[index];
      node.process?.signal("SIGKILL");
      await node.process?.status;
      node.process = undefined;
    },
    async restart(index) {
      const node = nodes[index];
      if (node.process) throw new Error(`NATS node ${node.name} is running; kill it first`);
      launch(node);
      await waitHealthy(node, timeoutMs, "?js-server-only=true");
      return await waitHealthy(node, 10_000).then(
        () => undefined,
        (error: Error) => error.message.split("\n")[0],
      );
    },
    async healthy(waitMs = timeoutMs) {
      await Promise.all(nodes.filter((node) => node.process).map((n) => waitHealthy(n, waitMs)));
    },
    async stop() {
      for (const node of nodes) {
        if (node.process) await node.process.stop(3000);
        node.process = undefined;
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    for (const node of nodes) launch(node);
    await cluster.healthy();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
