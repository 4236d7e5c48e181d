/**
 * The chaos network: one Linux bridge on the host for the cloud, and per agent a network
 * namespace joined by two veth pairs —
 *
 * ```
 *  host                                         namespace outpost-chaos-<run>-a<i>
 *  bridge ocb<run> 10.231.B.1/24 (cloud) ── ocu<run><i> ═══ up0  10.231.B.(10+i)/24
 *  ocl<run><i> 10.231.(100+B).(4i+1)/30  ══════════════════ lan0 10.231.(100+B).(4i+2)/30 (agent API)
 * ```
 *
 * With `--broker=nats`, each NATS node gets a namespace too, joined to the bridge by one veth pair:
 *
 * ```
 *  bridge ocb<run> ── ocn<run><i> ═══ up0 10.231.B.(2+i)/24   namespace outpost-chaos-<run>-n<i>
 * ```
 *
 * so a node can be partitioned from the other nodes, the cloud and the agents at once (nftables
 * drop rules in the namespace's own table), while the others keep talking.
 *
 * The uplink is what the faults cut and degrade (agent ↔ cloud and broker); the LAN link is how
 * the workload — a field operator — keeps reaching the agent's API while the uplink is down,
 * which is the offline-first situation under test. Every address lives on links this module
 * creates; nothing is routed anywhere else.
 * @module
 */
import { run, tryRun } from "./shell.ts";

/** How link degradation (loss and delay) is injected. */
export type ImpairMethod = "netem" | "nft";

/** One agent's place in the network. */
export interface AgentNet {
  index: number;
  namespace: string;
  /** Host end of the uplink veth (a bridge port): taking it down partitions the agent. */
  uplinkHost: string;
  /** The agent's uplink address (towards the cloud). */
  uplinkAddress: string;
  /** The agent's LAN address: its API listens here. */
  lanAddress: string;
}

/** One broker node's place in the network (`--broker=nats`). */
export interface BrokerNodeNet {
  index: number;
  namespace: string;
  /** Host end of its veth (a bridge port). */
  linkHost: string;
  /** The node listens here (client, routes, MQTT, monitoring). */
  address: string;
}

/** Loss and delay applied to one agent's uplink, both directions. */
export interface Impairment {
  lossPercent: number;
  delayMs: number;
  jitterMs: number;
}

/** The created network. */
export interface Topology {
  readonly runId: string;
  readonly bridge: string;
  /** Where the cloud listens (HTTP and the embedded broker). */
  readonly cloudAddress: string;
  readonly agents: AgentNet[];
  /** Broker nodes in namespaces of their own; empty unless asked for. */
  readonly brokerNodes: BrokerNodeNet[];
  readonly impairMethod: ImpairMethod;
  /** `["ip", "netns", "exec", ns]` for agent `index`. */
  execPrefix(index: number): string[];
  /** Link down on the host end of the agent's uplink: packets go nowhere until healed. */
  partition(index: number): Promise<void>;
  /** Link up again. */
  heal(index: number): Promise<void>;
  /** `["ip", "netns", "exec", ns]` for broker node `index`. */
  brokerExecPrefix(index: number): string[];
  /**
   * Cuts broker node `index` off from everyone (the other nodes, the cloud, the agents): every
   * packet in or out of its link is dropped by an nftables table in its namespace, so its
   * connections hang rather than fail, as in a real partition.
   */
  partitionBroker(index: number): Promise<void>;
  /** Removes that table. */
  healBroker(index: number): Promise<void>;
  /** Degrades the agent's uplink; returns a description for the log. */
  impair(index: number, impairment: Impairment): Promise<string>;
  /** Removes the degradation. */
  unimpair(index: number): Promise<void>;
  /** Deletes every namespace, link and rule created. Safe to call twice. */
  teardown(): Promise<void>;
}

/** Options of {@link createTopology}. */
export interface TopologyOptions {
  /** 1-4 hex characters making names and the subnet unique to this run. */
  runId: string;
  agents: number;
  /** Broker nodes to give a namespace of their own (0-3). */
  brokerNodes?: number;
  impairMethod: ImpairMethod;
}

const NFT_TABLE = "outpost_chaos";

/** The first block from `preferred` whose subnets no other run on this machine uses now. */
async function freeBlock(preferred: number): Promise<number> {
  const used = await run("ip", ["-o", "-4", "addr", "show"]);
  for (let i = 0; i < 50; i++) {
    const block = (preferred + i) % 50;
    if (!used.includes(` 10.231.${block}.`) && !used.includes(` 10.231.${100 + block}.`)) {
      return block;
    }
  }
  throw new Error("every 10.231.x chaos subnet is in use: are 50 chaos runs going on?");
}

function nsExec(namespace: string, command: string, args: string[]): Promise<string> {
  return run("ip", ["netns", "exec", namespace, command, ...args]);
}

/** Removes the impairment's nftables table inside `namespace`, if it is there. */
async function dropNftTable(namespace: string, table = NFT_TABLE): Promise<void> {
  await tryRun("ip", ["netns", "exec", namespace, "nft", "delete", "table", "inet", table]);
}

/** The broker node partition's table: its own name, so it never meets the impairment's. */
const NFT_PARTITION_TABLE = "outpost_chaos_partition";

/** Drops everything in and out of `up0` (ARP, in another family, still passes). */
export function partitionRules(): string {
  return [
    `table inet ${NFT_PARTITION_TABLE} {`,
    "  chain input { type filter hook input priority -10; policy accept;",
    '    iifname "up0" drop',
    "  }",
    "  chain output { type filter hook output priority -10; policy accept;",
    '    oifname "up0" drop',
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Creates the bridge, the namespaces and the veth pairs. */
export async function createTopology(options: TopologyOptions): Promise<Topology> {
  const { runId, impairMethod } = options;
  const block = await freeBlock(parseInt(runId, 16) % 50);
  const bridge = `ocb${runId}`;
  const cloudAddress = `10.231.${block}.1`;
  const agents: AgentNet[] = Array.from({ length: options.agents }, (_, index) => ({
    index,
    namespace: `outpost-chaos-${runId}-a${index}`,
    uplinkHost: `ocu${runId}${index}`,
    uplinkAddress: `10.231.${block}.${10 + index}`,
    lanAddress: `10.231.${100 + block}.${4 * index + 2}`,
  }));
  const brokerNodes: BrokerNodeNet[] = Array.from(
    { length: options.brokerNodes ?? 0 },
    (_, index) => ({
      index,
      namespace: `outpost-chaos-${runId}-n${index}`,
      linkHost: `ocn${runId}${index}`,
      address: `10.231.${block}.${2 + index}`,
    }),
  );
  if (brokerNodes.length > 3) throw new Error("at most 3 broker nodes (10.231.B.2-4)");
  const lanHostAddress = (index: number) => `10.231.${100 + block}.${4 * index + 1}`;
  const created: { namespaces: string[]; links: string[] } = { namespaces: [], links: [] };
  const impaired = new Set<number>();
  const partitionedBrokers = new Set<number>();

  const topology: Topology = {
    runId,
    bridge,
    cloudAddress,
    agents,
    impairMethod,
    brokerNodes,
    execPrefix: (index) => ["ip", "netns", "exec", agents[index].namespace],
    brokerExecPrefix: (index) => ["ip", "netns", "exec", brokerNodes[index].namespace],
    async partitionBroker(index) {
      const node = brokerNodes[index];
      partitionedBrokers.add(index);
      await dropNftTable(node.namespace, NFT_PARTITION_TABLE);
      await run("ip", ["netns", "exec", node.namespace, "nft", "-f", "-"], partitionRules());
    },
    async healBroker(index) {
      partitionedBrokers.delete(index);
      await dropNftTable(brokerNodes[index].namespace, NFT_PARTITION_TABLE);
    },
    async partition(index) {
      await run("ip", ["link", "set", agents[index].uplinkHost, "down"]);
    },
    async heal(index) {
      await run("ip", ["link", "set", agents[index].uplinkHost, "up"]);
    },
    async impair(index, impairment) {
      const agent = agents[index];
      impaired.add(index);
      if (impairMethod === "netem") {
        const netem = [
          "netem",
          "delay",
          `${impairment.delayMs}ms`,
          `${impairment.jitterMs}ms`,
          "loss",
          `${impairment.lossPercent}%`,
        ];
        await run("tc", ["qdisc", "replace", "dev", agent.uplinkHost, "root", ...netem]);
        await nsExec(agent.namespace, "tc", ["qdisc", "replace", "dev", "up0", "root", ...netem]);
        return `netem loss ${impairment.lossPercent}% delay ${impairment.delayMs}±${impairment.jitterMs}ms both ways`;
      }
      // No sch_netem: drop packets at random with nftables' numgen inside the namespace, and
      // add queueing delay with a token bucket small enough to back up under load.
      const rate = Math.max(64, Math.round(8 * 64_000 / Math.max(1, impairment.delayMs)));
      await dropNftTable(agent.namespace);
      await run("ip", ["netns", "exec", agent.namespace, "nft", "-f", "-"], nftRules(impairment));
      const tbf = ["tbf", "rate", `${rate}kbit`, "burst", "4kb", "latency", "2s"];
      await run("tc", ["qdisc", "replace", "dev", agent.uplinkHost, "root", ...tbf]);
      await nsExec(agent.namespace, "tc", ["qdisc", "replace", "dev", "up0", "root", ...tbf]);
      return `nft random drop ${impairment.lossPercent}% both ways + tbf ${rate}kbit (queueing delay)`;
    },
    async unimpair(index) {
      const agent = agents[index];
      impaired.delete(index);
      await tryRun("tc", ["qdisc", "del", "dev", agent.uplinkHost, "root"]);
      await tryRun("ip", [
        "netns",
        "exec",
        agent.namespace,
        "tc",
        "qdisc",
        "del",
        "dev",
        "up0",
        "root",
      ]);
      if (impairMethod === "nft") await dropNftTable(agent.namespace);
    },
    async teardown() {
      for (const index of [...impaired]) await topology.unimpair(index);
      for (const index of [...partitionedBrokers]) await topology.healBroker(index);
      for (const namespace of created.namespaces.splice(0)) {
        await tryRun("ip", ["netns", "del", namespace]);
      }
      for (const link of created.links.splice(0)) await tryRun("ip", ["link", "del", link]);
    },
  };

  /** A veth pair: `host` here, `peer` inside `namespace`; removed at teardown. */
  const addVeth = async (host: string, peer: string, namespace: string) => {
    await run("ip", [
      "link",
      "add",
      host,
      "type",
      "veth",
      "peer",
      "name",
      peer,
      "netns",
      namespace,
    ]);
    created.links.push(host);
  };

  try {
    await run("ip", ["link", "add", bridge, "type", "bridge", "forward_delay", "0"]);
    created.links.push(bridge);
    await run("ip", ["addr", "add", `${cloudAddress}/24`, "dev", bridge]);
    await run("ip", ["link", "set", bridge, "up"]);
    for (const agent of agents) {
      const lanHost = `ocl${runId}${agent.index}`;
      await run("ip", ["netns", "add", agent.namespace]);
      created.namespaces.push(agent.namespace);
      await addVeth(agent.uplinkHost, "up0", agent.namespace);
      await run("ip", ["link", "set", agent.uplinkHost, "master", bridge]);
      await run("ip", ["link", "set", agent.uplinkHost, "up"]);
      await addVeth(lanHost, "lan0", agent.namespace);
      await run("ip", ["addr", "add", `${lanHostAddress(agent.index)}/30`, "dev", lanHost]);
      await run("ip", ["link", "set", lanHost, "up"]);
      const ns = ["-n", agent.namespace];
      await run("ip", [...ns, "link", "set", "lo", "up"]);
      await run("ip", [...ns, "addr", "add", `${agent.uplinkAddress}/24`, "dev", "up0"]);
      await run("ip", [...ns, "link", "set", "up0", "up"]);
      await run("ip", [...ns, "addr", "add", `${agent.lanAddress}/30`, "dev", "lan0"]);
      await run("ip", [...ns, "link", "set", "lan0", "up"]);
    }
    for (const node of brokerNodes) {
      await run("ip", ["netns", "add", node.namespace]);
      created.namespaces.push(node.namespace);
      await addVeth(node.linkHost, "up0", node.namespace);
      await run("ip", ["link", "set", node.linkHost, "master", bridge]);
      await run("ip", ["link", "set", node.linkHost, "up"]);
      const ns = ["-n", node.namespace];
      await run("ip", [...ns, "link", "set", "lo", "up"]);
      await run("ip", [...ns, "addr", "add", `${node.address}/24`, "dev", "up0"]);
      await run("ip", [...ns, "link", "set", "up0", "up"]);
    }
  } catch (error) {
    await topology.teardown();
    throw error;
  }
  return topology;
}

function nftRules(impairment: Impairment): string {
  const drop = `numgen random mod 100 < ${impairment.lossPercent} drop`;
  return [
    `table inet ${NFT_TABLE} {`,
    "  chain input { type filter hook input priority 0; policy accept;",
    `    iifname "up0" ${drop}`,
    "  }",
    "  chain output { type filter hook output priority 0; policy accept;",
    `    oifname "up0" ${drop}`,
    "  }",
    "}",
    "",
  ].join("\n");
}
