/**
 * Sync checks shared by the integration, system and Mosquitto tests: an agent's sync status,
 * waiting for its outbox to drain, and the record-by-record exactly-once assertion.
 * @module
 */
import assert from "node:assert/strict";
import { type AgentHandle, eventually } from "./stack.ts";
import { compareRecords, type RecordMap } from "./verify.ts";

/** `GET /api/v1/sync` of an agent. */
export interface SyncStatus {
  state: string;
  pending: number;
  lastSeq: number;
  ackedSeq: number;
  lastError: string | null;
  /** The broker URL in use or being tried (without credentials). */
  brokerUrl: string | null;
}

/** The agent's sync status. */
export async function syncStatus(agent: Pick<AgentHandle, "url">): Promise<SyncStatus> {
  return await (await fetch(`${agent.url}/api/v1/sync`)).json();
}

/**
 * Waits until the agent is online with nothing pending; on timeout the error carries the last
 * status and the agent's last output lines.
 */
export async function waitDrained(agent: AgentHandle, timeoutMs = 90_000): Promise<void> {
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
 * Asserts that the cloud holds exactly the agent's records: none lost, duplicated, invented or
 * changed. Returns how many there are.
 */
export function assertSameRecords(
  local: RecordMap,
  remote: { map: RecordMap; duplicates: number[] },
  label: string,
): number {
  const { lost, phantom, mismatched } = compareRecords(local, remote.map);
  assert.deepEqual(
    {
      lost: lost.length,
      duplicated: remote.duplicates.length,
      phantom: phantom.length,
      mismatched: mismatched.length,
    },
    { lost: 0, duplicated: 0, phantom: 0, mismatched: 0 },
    `${label}: first lost ${lost.slice(0, 5)}, phantom ${phantom.slice(0, 5)}, mismatched ${
      mismatched.slice(0, 5)
    }, duplicated ${remote.duplicates.slice(0, 5)}`,
  );
  return local.size;
}
