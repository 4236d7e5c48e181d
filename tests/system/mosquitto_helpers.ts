/**
 * Sync checks of the Mosquitto and NATS system tests: agent and cloud (libSQL) compared record by
 * record, readings written continuously, batches a replica handled; the rest is
 * tests/support/sync_checks.ts.
 * @module
 */
import assert from "node:assert/strict";
import { postJson } from "../support/process.ts";
import type { AgentHandle, CloudHandle } from "../support/stack.ts";
import { assertSameRecords } from "../support/sync_checks.ts";
import { agentRecords, cloudRecords } from "../support/verify.ts";

export { type SyncStatus, syncStatus, waitDrained } from "../support/sync_checks.ts";

/**
 * Asserts that the cloud (its libSQL file in `cloudDataDir`) holds exactly the agent's records:
 * none lost, duplicated, invented or changed. Returns how many there are.
 */
export function assertExactlyOnce(agent: AgentHandle, cloudDataDir: string): number {
  return assertSameRecords(
    agentRecords(agent.dataDir),
    cloudRecords(cloudDataDir, agent.deviceId),
    agent.deviceId,
  );
}

/** A background writer of readings; see {@link startWriter}. */
export interface Writer {
  /** Stops writing; resolves with the values of every write that got a 201. */
  stop(): Promise<number[]>;
}

/** POSTs batches of `batchSize` readings to the agent, one after another, until stopped. */
export function startWriter(agent: AgentHandle, batchSize = 200): Writer {
  const acknowledged: number[] = [];
  let writing = true;
  const loop = (async () => {
    for (let i = 0; writing; i++) {
      const batch = Array.from(
        { length: batchSize },
        (_, j) => ({ sensor: "w", value: i * batchSize + j }),
      );
      const result = await postJson(`${agent.url}/api/v1/readings`, batch);
      assert.equal(result.status, 201, JSON.stringify(result.body));
      acknowledged.push(...batch.map((reading) => reading.value));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      writing = false;
      await loop;
      return acknowledged;
    },
  };
}

/**
 * Batches a cloud replica took from the shared uplink, from its /metrics: stored, duplicate or
 * rejected (two processes on one libSQL file sometimes find it locked; the device resends).
 */
export async function handledBatches(cloud: CloudHandle): Promise<number> {
  const text = await (await fetch(`${cloud.url}/metrics`)).text();
  const batches = /^outpost_ingest_batches_total\{[^}]*\} (\d+)$/gm;
  const rejected = /^outpost_ingest_rejected_total\{[^}]*kind="batch"[^}]*\} (\d+)$/gm;
  return [...text.matchAll(batches), ...text.matchAll(rejected)]
    .reduce((total, [, value]) => total + Number(value), 0);
}
