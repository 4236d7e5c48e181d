/**
 * One NATS node, a cloud on it (`OUTPOST_BROKER=nats`) and an observer: a NATS connection of an
 * Outpost-account service user, to watch subjects and JetStream the way the cloud does.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { connectAs } from "@outpost/cloud/broker/nats/connection";
import { createLogger } from "@outpost/platform/log";
import { type NatsCluster, startNatsCluster } from "../support/nats_cluster.ts";
import {
  type AgentHandle,
  type CloudHandle,
  startAgentProcess,
  startCloud,
} from "../support/stack.ts";

/** What {@link startNatsCloud} started. */
export interface NatsCloud {
  cluster: NatsCluster;
  cloud: CloudHandle;
  observer: NatsConnection;
  /** Stops all three (what failed to stop is not the caller's test failure). */
  stop(): Promise<void>;
}

/**
 * Starts a one-node cluster, a cloud on it (with `env` on top) and an observer; cleans up what
 * started on failure.
 */
export async function startNatsCloud(env: Record<string, string> = {}): Promise<NatsCloud> {
  const cluster = await startNatsCluster({ nodes: 1 });
  let cloud: CloudHandle | undefined;
  try {
    cloud = await startCloud({ env: { ...cluster.cloudEnv(), ...env } });
    const observer = await connectAs({
      servers: cluster.clientUrls,
      account: cluster.keys.account,
      name: "test-observer",
      logger: createLogger({ level: "error" }),
    });
    const started = cloud;
    return {
      cluster,
      cloud,
      observer,
      async stop() {
        await observer.close().catch(() => {});
        await started.process.stop();
        await cluster.stop();
      },
    };
  } catch (error) {
    await cloud?.process.stop();
    await cluster.stop();
    throw error;
  }
}

/**
 * Runs `fn` with a cloud on one NATS node (with `env`) and agent `deviceId` enrolled with it;
 * prints the tails of both logs when `fn` fails, and stops everything.
 */
export async function withNatsAgent(
  deviceId: string,
  env: Record<string, string>,
  fn: (stack: NatsCloud & { agent: AgentHandle }) => Promise<void>,
): Promise<void> {
  const stack = await startNatsCloud(env);
  const agent = await startAgentProcess({ deviceId, cloudUrl: stack.cloud.url })
    .catch(async (error) => {
      await stack.stop();
      throw error;
    });
  try {
    await fn({ ...stack, agent });
  } catch (error) {
    console.log(agent.process.output.slice(-30).join("\n"));
    console.log(stack.cloud.process.output.slice(-30).join("\n"));
    throw error;
  } finally {
    await agent.process.stop();
    await stack.stop();
  }
}

/** The MQTT part of the credentials an agent stored from its enrollment. */
export async function storedMqttCredentials(
  dataDir: string,
): Promise<{ password: string; downlinkQos?: number }> {
  return JSON.parse(await Deno.readTextFile(`${dataDir}/credentials.json`)).mqtt;
}
