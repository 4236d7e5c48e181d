/**
 * Outpost on a 3-node NATS JetStream cluster (issue 19): two cloud replicas share one durable
 * uplink consumer and one database; agents are spread over the nodes. While they sync, one
 * broker node is SIGKILLed and restarted, then another, then one cloud replica is SIGKILLed.
 * Every acknowledged record must be stored exactly once, every backlog drained, and presence
 * right: devices are online again after failing over, and a device that vanished with its node
 * is marked offline by the presence sweep (NATS publishes no Last Will then).
 */
import assert from "node:assert/strict";
import { startNatsCluster } from "../support/nats_cluster.ts";
import {
  type AgentHandle,
  type CloudHandle,
  eventually,
  startAgentProcess,
  startCloud,
} from "../support/stack.ts";
import {
  assertExactlyOnce,
  handledBatches,
  startWriter,
  waitDrained,
} from "./mosquitto_helpers.ts";

/** `items` starting at `first`, wrapping around. */
const rotate = <T>(items: T[], first: number): T[] => [
  ...items.slice(first),
  ...items.slice(0, first),
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface DeviceRow {
  id: string;
  online: boolean;
}

async function devices(cloud: CloudHandle): Promise<Map<string, boolean>> {
  const { body } = await cloud.admin<{ items: DeviceRow[] }>("/api/v1/devices?limit=100");
  return new Map(body.items.map((item) => [item.id, item.online]));
}

/** `outpost_broker_connected` of a replica is 1. */
async function brokerConnected(cloud: CloudHandle): Promise<boolean> {
  const text = await (await fetch(`${cloud.url}/metrics`)).text();
  return /^outpost_broker_connected(\{[^}]*\})? 1$/m.test(text);
}

function count(handles: { process: { output: string[] } }[], text: string): number {
  return handles.reduce(
    (n, handle) => n + handle.process.output.filter((line) => line.includes(text)).length,
    0,
  );
}

Deno.test("NATS cluster: node kills and a replica kill lose and duplicate nothing; presence follows", async () => {
  const started = performance.now();
  const cluster = await startNatsCluster({ nodes: 3, timeoutMs: 60_000 });
  const clouds: CloudHandle[] = [];
  const agents: AgentHandle[] = [];
  let writers = [] as ReturnType<typeof startWriter>[];
  const phase = (what: string) =>
    console.log(`${((performance.now() - started) / 1000).toFixed(1)} s: ${what}`);
  try {
    const env = { ...cluster.cloudEnv(), OUTPOST_NATS_PRESENCE_SWEEP: "2s" };
    clouds.push(await startCloud({ env }));
    // The second replica shares the first one's database, as replicas share PostgreSQL.
    clouds.push(
      await startCloud({ env: { ...env, DATABASE_URL: `file:${clouds[0].dataDir}/cloud.db` } }),
    );
    // A replica is ready before it reaches the cluster (it serves its API during a broker
    // outage); the test starts once both consume.
    await eventually(
      async () => (await Promise.all(clouds.map(brokerConnected))).every(Boolean),
      "both replicas connected to the cluster",
      60_000,
    );
    phase("cluster and two cloud replicas ready");
    for (let i = 0; i < 3; i++) {
      agents.push(
        await startAgentProcess({
          deviceId: `nats-${i + 1}`,
          cloudUrl: clouds[i % 2].url,
          // Every node's URL, its own first: agents fail over when their node dies. (With QoS
          // 1 downlink subscriptions, one run of two failed here: nats-server 2.9.10 refused
          // sessions moving between nodes, "wrong last sequence"; at QoS 0 they move.)
          env: { OUTPOST_MQTT_URL: rotate(cluster.mqttUrls, i).join(",") },
        }),
      );
    }
    await eventually(
      async () => [...(await devices(clouds[0])).values()].filter(Boolean).length === 3,
      "all three devices online",
      60_000,
    );
    writers = agents.map((agent) => startWriter(agent, 50));
    phase("three agents online and writing");
    await sleep(2_000);
    for (const index of [0, 1]) {
      await cluster.kill(index);
      phase(`node n${index + 1} SIGKILLed`);
      await sleep(2_000);
      const lagging = await cluster.restart(index);
      phase(`node n${index + 1} restarted${lagging ? ` (${lagging})` : " and healthy"}`);
      await sleep(2_000);
    }
    // The agents of the killed nodes carried on through another node's listener (their own
    // node is the first of their URLs).
    const movedConnections = agents.flatMap((agent) => agent.process.output)
      .filter((line) => line.includes('"msg":"broker connected"') && !line.includes('"index":1'))
      .length;
    assert.ok(movedConnections > 0, "agents failed over to another node");
    const handled = await Promise.all(clouds.map(handledBatches));
    assert.ok(handled[0] + handled[1] > 0, `the replicas consume the shared uplink: ${handled}`);
    // Competing consumers need not split a light load evenly (one replica's pending pulls may
    // take it all), so the busier replica dies: the other must take its share over.
    const victim = handled[0] >= handled[1] ? 0 : 1;
    const survivor = clouds[1 - victim];
    clouds[victim].process.signal("SIGKILL");
    await clouds[victim].process.status;
    phase(`cloud replica ${victim + 1} SIGKILLed`);
    await sleep(2_000);
    const written = await Promise.all(writers.map((writer) => writer.stop()));
    for (const agent of agents) await waitDrained(agent, 100_000);
    phase("every agent drained");
    assert.ok(
      (await handledBatches(survivor)) > handled[1 - victim],
      "the surviving replica consumed after the kill",
    );
    for (const [i, agent] of agents.entries()) {
      assert.equal(assertExactlyOnce(agent, clouds[0].dataDir), written[i].length);
    }
    await eventually(
      async () => [...(await devices(survivor)).values()].every(Boolean),
      "every device online again after the node kills",
      30_000,
    );

    // A device that vanishes together with its node: no Last Will; the sweep finds it.
    agents[2].process.signal("SIGKILL");
    await cluster.kill(2);
    phase("node n3 and its agent SIGKILLed");
    const killedAt = performance.now();
    await eventually(
      async () => (await devices(survivor)).get("nats-3") === false,
      "nats-3 marked offline by the presence sweep",
      20_000,
    );
    phase(`nats-3 offline after ${((performance.now() - killedAt) / 1000).toFixed(1)} s`);
    // An agent that had failed over to n3 lost its connection too: it moves to a live node.
    await eventually(
      async () => {
        const after = await devices(survivor);
        return after.get("nats-1") === true && after.get("nats-2") === true;
      },
      "the agents whose processes live are online (on a live node)",
      30_000,
    );
    assert.equal((await devices(survivor)).get("nats-3"), false, "nats-3 stays offline");
    console.log(
      `batches per replica before the replica kill: ${handled.join(" + ")}; records: ${
        written.map((w) => w.length).join(", ")
      }; connections to another node: ${movedConnections}; agent resends after an ack ` +
        `timeout: ${count(agents, "no ack in time")}; store errors: ${
          count(clouds, '"store_error"')
        }; total ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
  } catch (error) {
    for (const handle of [...agents, ...clouds]) {
      console.log(`--- ${"deviceId" in handle ? handle.deviceId : handle.url} ---`);
      console.log(
        handle.process.output.filter((line) => !line.includes("store_error")).slice(-25).join("\n"),
      );
    }
    for (const node of cluster.nodes) {
      console.log(`--- NATS node ${node.name} ---`);
      console.log(
        (node.process?.output ?? []).filter((line) => !line.includes("Healthcheck failed"))
          .slice(-25).join("\n"),
      );
    }
    throw error;
  } finally {
    // A writer whose agent is gone fails; its error is not this test's.
    await Promise.all(writers.map((writer) => writer.stop().catch(() => [])));
    for (const agent of agents) await agent.process.stop();
    for (const cloud of clouds) await cloud.process.stop();
    await cluster.stop();
  }
});
