/**
 * One NATS node, a cloud on it (`OUTPOST_BROKER=nats`) and an observer: a NATS connection of an
 * Outpost-account service user, to watch subjects and JetStream the way the cloud does.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { connectAs } from "@outpost/cloud/broker/nats/connection";
import { createLogger } from "@outpost/platform/log";
import { type NatsCluster, startNatsCluster } from "../support/nats_cluster.ts";
import { type CloudHandle, startCloud } from "../support/stack.ts";

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
