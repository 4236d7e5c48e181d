/**
 * Process faults: SIGKILL of an agent or the cloud (some clouds restarted "armed" to kill
 * themselves right after a commit, before its ack), a broker restart, and SIGSTOP/SIGCONT.
 * @module
 */
import type { BrokerKind, Component } from "../cluster.ts";
import type { Rng } from "../rng.ts";
import { type Fault, type FaultContext, sleep } from "./types.ts";

/** The env that arms the cloud's own fault injection (see cloud/cloud.ts). */
export function armEnv(commits: number): Record<string, string> {
  return { OUTPOST_FAULT_CRASH_AFTER_COMMITS: String(commits) };
}

async function restartCloud(context: FaultContext, rng: Rng): Promise<string> {
  if (rng.chance(context.armChance)) {
    const commits = rng.int(2, 40);
    await context.cluster.cloud.restart(armEnv(commits));
    return `; restarted armed to die after ${commits} commits, before the ack`;
  }
  await context.cluster.cloud.restart();
  return "";
}

/** SIGKILL an agent mid-stream, restart it after a random downtime. */
export function agentKill(index: number, deviceId: string): Fault {
  return {
    kind: "agent_kill",
    target: deviceId,
    locks: [`agent:${index}`],
    async run(context, rng) {
      const agent = context.cluster.agents[index].component;
      await agent.kill("SIGKILL");
      const down = rng.int(0, context.timing.maxDowntimeMs);
      await sleep(down);
      const started = performance.now();
      await agent.restart();
      context.counts.agent_kill++;
      return `SIGKILL, down ${down} ms, ready again in ${
        Math.round(performance.now() - started)
      } ms`;
    },
  };
}

/** SIGKILL the cloud (and with it the embedded broker), restart it. */
export function cloudKill(): Fault {
  return {
    kind: "cloud_kill",
    target: "cloud",
    locks: ["cloud"],
    async run(context, rng) {
      await context.cluster.cloud.kill("SIGKILL");
      context.counts.cloud_kill++;
      const down = rng.int(0, context.timing.maxDowntimeMs);
      await sleep(down);
      return `SIGKILL, down ${down} ms${await restartCloud(context, rng)}`;
    },
  };
}

/**
 * A broker restart. With NATS: one node at random, SIGKILL (sometimes SIGTERM, which lets it
 * close its clients' connections and flush), a downtime, a start on the same address, ports and
 * data dir, and a wait until its JetStream runs and follows the meta leader (then up to 15 s for
 * every stream and consumer to be current). With Mosquitto: SIGKILL (sometimes SIGTERM, which saves its database) and a
 * start with persistence switched on or off at random — off, every session, queued message and
 * retained ack is gone. With the embedded broker, which lives in the cloud process: a graceful
 * stop of the cloud (connections closed, retained messages lost) and a start.
 */
export function brokerRestart(kind: BrokerKind = "mosquitto"): Fault {
  return {
    kind: "broker_restart",
    target: "broker",
    // The embedded broker lives in the cloud; a restarted Mosquitto means the cloud resubscribes.
    // A NATS node's death is what the cloud must ride through, cloud kills and all.
    locks: kind === "nats" ? ["broker"] : ["broker", "cloud"],
    async run(context, rng) {
      const nats = context.cluster.nats;
      if (nats) {
        const node = rng.pick(nats.nodes);
        const signal = rng.chance(0.75) ? "SIGKILL" : "SIGTERM";
        await node.kill(signal);
        const down = rng.int(0, context.timing.maxDowntimeMs);
        await sleep(down);
        const started = performance.now();
        await node.restart();
        context.counts.broker_restart++;
        const note = nats.healthNote(node.name);
        return `${node.name} ${signal}, down ${down} ms, serving again ${
          Math.round(performance.now() - started)
        } ms after its start${note ? ` (full health check still said: ${note})` : ""}`;
      }
      const broker = context.cluster.broker;
      if (!broker) {
        await context.cluster.cloud.kill("SIGTERM");
        const down = rng.int(0, context.timing.maxDowntimeMs);
        await sleep(down);
        const suffix = await restartCloud(context, rng);
        context.counts.broker_restart++;
        return `embedded broker stopped with the cloud (SIGTERM), down ${down} ms${suffix}`;
      }
      const signal = rng.chance(0.75) ? "SIGKILL" : "SIGTERM";
      const persistence = rng.chance(0.5);
      await broker.component.kill(signal);
      await broker.setPersistence(persistence);
      const down = rng.int(0, context.timing.maxDowntimeMs);
      await sleep(down);
      await broker.component.restart();
      context.counts.broker_restart++;
      return `mosquitto ${signal}, down ${down} ms, restarted with persistence ${
        persistence ? "on" : "off"
      }`;
    },
  };
}

/**
 * SIGSTOP an agent, the cloud or the broker for a while, then SIGCONT. With NATS, "broker" is
 * one node at random: its peers and clients see it hang, not close.
 */
export function pause(target: { index: number; deviceId: string } | "cloud" | "broker"): Fault {
  const name = typeof target === "string" ? target : target.deviceId;
  return {
    kind: "pause",
    target: name,
    locks: [typeof target === "string" ? target : `agent:${target.index}`],
    async run(context, rng) {
      const nats = context.cluster.nats;
      const component: Component | undefined = target === "cloud"
        ? context.cluster.cloud
        : target === "broker"
        ? (nats ? rng.pick(nats.nodes) : context.cluster.broker?.component) ??
          context.cluster.cloud
        : context.cluster.agents[target.index].component;
      const held = rng.int(500, context.timing.maxPauseMs);
      component!.pause();
      try {
        await sleep(held);
      } finally {
        component!.resume();
      }
      context.counts.pause++;
      return `${
        target === "broker" && nats ? `${component!.name} ` : ""
      }SIGSTOP for ${held} ms, then SIGCONT`;
    },
  };
}
