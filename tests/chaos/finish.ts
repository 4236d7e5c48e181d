/**
 * The end of a run: wait until every agent has handed everything to the cloud, and keep the
 * evidence (history, fault log, report, process logs) in the run directory.
 * @module
 */
import { join } from "node:path";
import type { Cluster, Component } from "./cluster.ts";
import type { FaultLogEntry } from "./faults/scheduler.ts";
import { sleep } from "./faults/types.ts";
import type { RunLog } from "./run_log.ts";
import type { Workload } from "./workload.ts";

async function syncStatus(url: string) {
  const response = await fetch(`${url}/api/v1/sync`, { signal: AbortSignal.timeout(5000) });
  return await response.json() as { state: string; pending: number; lastSeq: number };
}

/**
 * Waits until every agent has nothing pending and the cloud acked its last seq; returns a
 * violation line for each agent that did not drain in time.
 */
export async function drain(cluster: Cluster, log: RunLog, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Map<string, string>();
  const targets = [
    ...cluster.agents.map((a) => ({ deviceId: a.deviceId, url: a.component.url })),
    { deviceId: cluster.fuzzAgent.deviceId, url: cluster.fuzzAgent.component.url },
  ];
  for (const target of targets) {
    for (;;) {
      let state = "";
      try {
        const status = await syncStatus(target.url);
        const device = await (await fetch(`${cluster.cloudUrl}/api/v1/devices/${target.deviceId}`, {
          headers: { authorization: `Bearer ${cluster.adminToken}` },
          signal: AbortSignal.timeout(5000),
        })).json() as { ackedSeq: number };
        state =
          `state ${status.state}, pending ${status.pending}, lastSeq ${status.lastSeq}, cloud ackedSeq ${device.ackedSeq}`;
        if (status.pending === 0 && device.ackedSeq === status.lastSeq) break;
      } catch (error) {
        state = `unreachable: ${(error as Error).message}`;
      }
      if (Date.now() > deadline) {
        pending.set(target.deviceId, state);
        break;
      }
      await sleep(500);
    }
    log.line(
      `drain: ${target.deviceId} ${
        pending.has(target.deviceId) ? `NOT drained (${pending.get(target.deviceId)})` : "drained"
      }`,
    );
  }
  return [...pending].map(([id, state]) =>
    `drain: ${id} did not drain within ${timeoutMs} ms: ${state}`
  );
}

/** Writes the history, the fault log, the report and every process's log into the run dir. */
export async function writeRunFiles(
  runDir: string,
  parts: {
    workload: Workload;
    faults: FaultLogEntry[];
    cluster?: Cluster;
    extra: Record<string, unknown>;
  },
) {
  await Deno.writeTextFile(
    join(runDir, "history.jsonl"),
    parts.workload.history.map((entry) => JSON.stringify(entry)).join("\n") + "\n",
  );
  await Deno.writeTextFile(join(runDir, "faults.json"), JSON.stringify(parts.faults, null, 2));
  await Deno.writeTextFile(join(runDir, "report.json"), JSON.stringify(parts.extra, null, 2));
  const components: Component[] = parts.cluster
    ? [
      parts.cluster.cloud,
      ...(parts.cluster.broker ? [parts.cluster.broker.component] : []),
      ...(parts.cluster.nats?.nodes ?? []),
      ...parts.cluster.agents.map((a) => a.component),
      parts.cluster.fuzzAgent.component,
    ]
    : [];
  for (const component of components) {
    await Deno.writeTextFile(
      join(runDir, `${component.name}.log`),
      component.allOutput().join("\n") + "\n",
    );
  }
}
