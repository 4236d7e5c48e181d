/**
 * Sync checks shared by the Mosquitto system tests: wait for an agent's outbox to drain, compare
 * agent and cloud record by record (tests/support/verify.ts), and write readings continuously.
 * @module
 */
import assert from "node:assert/strict";
import { postJson } from "../support/process.ts";
import { type AgentHandle, eventually } from "../support/stack.ts";
import { agentRecords, cloudRecords, compareRecords } from "../support/verify.ts";

/** `GET /api/v1/sync` of an agent. */
export interface SyncStatus {
  state: string;
  pending: number;
  lastSeq: number;
  ackedSeq: number;
  lastError: string | null;
}

/** The agent's sync status. */
export async function syncStatus(agent: AgentHandle): Promise<SyncStatus> {
  return await (await fetch(`${agent.url}/api/v1/sync`)).json();
}

/** Waits until the agent is online with nothing pending. */
export async function waitDrained(agent: AgentHandle, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      const status = await syncStatus(agent);
      return status.state === "online" && status.pending === 0 && status.lastSeq > 0;
    },
    `${agent.deviceId} to drain its outbox`,
    timeoutMs,
  ).catch(async (error) => {
    const status = await syncStatus(agent).catch(() => undefined);
    throw new Error(
      `${error.message}; last status ${JSON.stringify(status)}\n` +
        agent.process.output.slice(-15).join("\n"),
    );
  });
}

/**
 * Asserts that the cloud (its libSQL file in `cloudDataDir`) holds exactly the agent's records:
 * none lost, duplicated, invented or changed. Returns how many there are.
 */
export function assertExactlyOnce(agent: AgentHandle, cloudDataDir: string): number {
  const local = agentRecords(agent.dataDir);
  const remote = cloudRecords(cloudDataDir, agent.deviceId);
  const { lost, phantom, mismatched } = compareRecords(local, remote.map);
  assert.deepEqual(
    {
      lost: lost.length,
      duplicated: remote.duplicates.length,
      phantom: phantom.length,
      mismatched: mismatched.length,
    },
    { lost: 0, duplicated: 0, phantom: 0, mismatched: 0 },
    `${agent.deviceId}: first lost ${lost.slice(0, 5)}, phantom ${phantom.slice(0, 5)}`,
  );
  return local.size;
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
