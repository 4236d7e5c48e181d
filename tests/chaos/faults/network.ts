/**
 * Network faults on an agent's uplink (agent ↔ cloud and broker): a partition (link down) and a
 * degraded link (packet loss and delay). The agent's LAN side stays up, so the workload goes on
 * writing while the agent is cut off. With NATS, a broker partition cuts one node off from the
 * other two and from every client.
 * @module
 */
import { type Fault, sleep } from "./types.ts";

/** Link down for a while, then up. */
export function partition(index: number, deviceId: string): Fault {
  return {
    kind: "partition",
    target: deviceId,
    locks: [`link:${index}`],
    async run(context, rng) {
      const held = rng.int(2000, context.timing.maxPartitionMs);
      await context.topology.partition(index);
      try {
        await sleep(held);
      } finally {
        await context.topology.heal(index);
      }
      context.counts.partition++;
      return `uplink down for ${held} ms`;
    },
  };
}

/** Packet loss and delay for a while. */
export function degrade(index: number, deviceId: string): Fault {
  return {
    kind: "degrade",
    target: deviceId,
    locks: [`link:${index}`],
    async run(context, rng) {
      const held = rng.int(3000, context.timing.maxPartitionMs);
      const impairment = {
        lossPercent: rng.int(5, 40),
        delayMs: rng.int(50, 500),
        jitterMs: rng.int(0, 50),
      };
      let described: string;
      try {
        described = await context.topology.impair(index, impairment);
        await sleep(held);
      } finally {
        await context.topology.unimpair(index);
      }
      context.counts.degrade++;
      return `${described} for ${held} ms`;
    },
  };
}

/**
 * One NATS node cut off from the other nodes and from every client (the cloud, the agents) for
 * a while, then healed: the remaining two keep the quorum, clients on the node must notice the
 * silence and move to another URL, and the node must catch up once it is back.
 */
export function brokerPartition(): Fault {
  return {
    kind: "broker_partition",
    target: "broker",
    locks: ["broker"],
    async run(context, rng) {
      const nats = context.cluster.nats;
      if (!nats) throw new Error("broker partitions need --broker=nats");
      const index = rng.int(0, nats.nodes.length - 1);
      const held = rng.int(2000, context.timing.maxPartitionMs);
      await context.topology.partitionBroker(index);
      try {
        await sleep(held);
      } finally {
        await context.topology.healBroker(index);
      }
      context.counts.broker_partition++;
      return `${nats.nodes[index].name} cut off (nftables drop in and out) for ${held} ms`;
    },
  };
}
