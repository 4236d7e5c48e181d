/**
 * One chaos run, start to verdict: preflight, network, processes, workload, fuzz phase, fault
 * schedule, heal, drain, check — then the summary line and the run directory (logs, history,
 * fault log) for a post-mortem.
 * @module
 */
import { cloudCounterMismatches, compareRecords } from "../support/verify.ts";
import { checkDevice, type DeviceVerdict, loadSides } from "./checker.ts";
import { type Cluster, type ExitReport, FUZZ_API_TOKEN, startCluster } from "./cluster.ts";
import { type FaultLogEntry, Locks, planFaults, runSchedule } from "./faults/scheduler.ts";
import { FAULT_KINDS, type FaultContext, type FaultKind } from "./faults/types.ts";
import { type FuzzReport, runFuzz } from "./fuzz/mod.ts";
import { type ChaosOptions, maxBrokerOutageMs } from "./options.ts";
import { preflight, PreflightError } from "./preflight.ts";
import { createRng } from "./rng.ts";
import { createRunLog } from "./run_log.ts";
import { type GrowthVerdict, watchSoak } from "./soak.ts";
import { createTopology, type Topology } from "./topology.ts";
import { drain, writeRunFiles } from "./finish.ts";
import { Workload } from "./workload.ts";

/** The outcome of a run. */
export interface ChaosReport {
  passed: boolean;
  summary: string;
  violations: string[];
  runDir: string;
}

const SUMMARY_KEYS: [FaultKind, string][] = [
  ["agent_kill", "agent_kills"],
  ["cloud_kill", "cloud_kills"],
  ["broker_restart", "broker_restarts"],
  ["broker_partition", "broker_partitions"],
  ["partition", "partitions"],
  ["disk_full", "disk_full"],
  ["skew", "skew"],
  ["pause", "pauses"],
  ["degrade", "degraded"],
];

/** Runs the suite as configured; never throws for what the system under test does. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const runDir = options.runDir ?? await Deno.makeTempDir({ prefix: "outpost-chaos-" });
  await Deno.mkdir(runDir, { recursive: true });
  const log = createRunLog({ dir: runDir });
  const mode = options.soakMinutes
    ? `soak ${options.soakMinutes} min`
    : `profile ${options.profile}`;
  log.line(
    `seed=${options.seed} ${mode} agents=${options.agents} broker=${options.broker} impair=${options.impair} run dir ${runDir}`,
  );
  log.line(
    `replay with: deno task test:chaos --profile=${options.profile} --seed=${options.seed} ` +
      `--broker=${options.broker} --impair=${options.impair}`,
  );
  const rng = createRng(options.seed);
  const violations: string[] = [];
  const crashes: string[] = [];
  const counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
  const locks = new Locks();
  const restarts = new Set<Promise<void>>();
  let faults: FaultLogEntry[] = [];
  let fuzz: FuzzReport | undefined;
  let verdicts: DeviceVerdict[] = [];
  let growth: Record<string, GrowthVerdict> = {};
  let topology: Topology | undefined;
  let cluster: Cluster | undefined;
  let workload: Workload | undefined;
  let stopping = false;
  const interrupt = () => {
    log.line("interrupted: cleaning up");
    stopping = true;
    Promise.resolve(cluster?.shutdown()).finally(() => topology?.teardown()).finally(() =>
      Deno.exit(130)
    );
  };
  Deno.addSignalListener("SIGINT", interrupt);
  Deno.addSignalListener("SIGTERM", interrupt);

  const onExit = (report: ExitReport) => {
    if (stopping) return;
    const { component } = report;
    const how = report.status.signal ?? `exit ${report.status.code}`;
    if (component === cluster?.cloud && report.injected) {
      counts.cloud_kill++;
      log.line(
        `cloud killed itself after a commit, before its ack (fault injection, ${how}); restarting`,
      );
    } else {
      const line = `CRASH: ${component.name} exited on its own (${how}):\n  ${
        report.lastLines.join("\n  ")
      }`;
      crashes.push(line);
      log.line(line);
    }
    const index = cluster?.agents.findIndex((a) => a.component === component) ?? -1;
    const key = component === cluster?.cloud
      ? "cloud"
      : component === cluster?.broker?.component || cluster?.nats?.nodes.includes(component)
      ? "broker"
      : index >= 0
      ? `agent:${index}`
      : `other:${component.name}`;
    const task = (async () => {
      const release = await locks.acquire([key]);
      try {
        if (!component.running && !stopping) await component.restart();
      } catch (error) {
        violations.push(
          `restart of ${component.name} after it exited failed: ${(error as Error).message}`,
        );
      } finally {
        release();
      }
    })();
    restarts.add(task);
    task.finally(() => restarts.delete(task));
  };

  try {
    const { libfaketime } = await preflight(options.impair, options.broker);
    // Per process, not per seed: a replay may run while the original still does.
    const runId = ((options.seed ^ Deno.pid) & 0xffff).toString(16).padStart(4, "0");
    topology = await createTopology({
      runId,
      agents: options.agents,
      brokerNodes: options.broker === "nats" ? 3 : 0,
      impairMethod: options.impair,
    });
    log.line(
      `network: bridge ${topology.bridge} (cloud ${topology.cloudAddress}), ${
        [
          ...topology.brokerNodes.map((n) => `${n.namespace} ${n.address}`),
          ...topology.agents.map((a) => `${a.namespace} lan ${a.lanAddress}`),
        ].join(", ")
      }`,
    );
    cluster = await startCluster({
      runDir,
      topology,
      libfaketime,
      diskSize: options.diskSize,
      broker: options.broker,
      maxBrokerOutageMs: maxBrokerOutageMs(options.timing),
      onExit,
    });
    log.line(
      `started: cloud ${cluster.cloudUrl}, broker ${
        cluster.nats?.mqttUrls.join(",") ?? cluster.broker?.url ?? "embedded"
      }, ${cluster.agents.length} agents, fuzz agent ${cluster.fuzzAgent.component.url}`,
    );
    const started = log.elapsed();
    workload = new Workload({
      targets: cluster.agents.map((a) => ({ deviceId: a.deviceId, url: a.component.url })),
      rng: rng.fork(),
      clock: () => log.elapsed() - started,
    });
    workload.start();

    if (options.soakMinutes) {
      const components = [
        cluster.cloud,
        ...(cluster.broker ? [cluster.broker.component] : []),
        ...(cluster.nats?.nodes ?? []),
        ...cluster.agents.map((a) => a.component),
      ];
      growth = await watchSoak(
        components.map((c) => ({ name: c.name, pid: () => c.componentPid() })),
        {
          minutes: options.soakMinutes,
          log,
          progress: () => {
            const stats = workload!.stats();
            return `writes=${stats.writes} acknowledged=${stats.acknowledged}`;
          },
        },
      );
      for (const [name, verdict] of Object.entries(growth)) {
        if (verdict.growing) violations.push(`soak: ${name} keeps growing: ${verdict.reason}`);
      }
    } else {
      if (options.fuzz > 0) {
        fuzz = await runFuzz(cluster, {
          inputs: options.fuzz,
          rng: rng.fork(),
          log,
          apiToken: FUZZ_API_TOKEN,
        });
        log.line(
          `fuzz: ${fuzz.inputs} inputs (agent ${fuzz.agent.inputs}, cloud ${fuzz.cloud.inputs}, MQTT ${fuzz.mqtt.inputs}); ` +
            `5xx ${fuzz.serverErrors}, crashes ${fuzz.crashes}; agent statuses ${
              JSON.stringify(fuzz.agent.byStatus)
            }; cloud statuses ${JSON.stringify(fuzz.cloud.byStatus)}`,
        );
        violations.push(...fuzz.violations);
      }
      const context: FaultContext = {
        cluster,
        topology,
        workload,
        log,
        timing: options.timing,
        armChance: options.armChance,
        counts,
      };
      const plan = planFaults(options.counts, cluster.agents, rng.fork(), options.broker);
      log.line(
        `faults: ${plan.length} planned: ${
          FAULT_KINDS.map((k) => `${k}=${options.counts[k]}`).join(" ")
        }`,
      );
      faults = await runSchedule(plan, context, rng.fork(), {
        concurrency: options.concurrency,
        gapMs: options.gapMs,
        locks,
      });
      for (const fault of faults) {
        if (fault.error) {
          violations.push(`fault ${fault.n} ${fault.kind} ${fault.target} failed: ${fault.error}`);
        }
      }
    }

    // Heal: whatever is still broken gets mended before the final drain.
    log.line("heal: links up, clocks real, processes running, cloud disarmed");
    for (const agent of cluster.agents) {
      await topology.heal(agent.index).catch(() => {});
      await topology.unimpair(agent.index);
      await Deno.writeTextFile(agent.clockFile, "+0\n");
    }
    for (const node of topology.brokerNodes) await topology.healBroker(node.index);
    while (restarts.size) await Promise.all(restarts);
    for (const node of cluster.nats?.nodes ?? []) {
      if (node.paused) node.resume();
      if (!node.running) await node.restart();
    }
    {
      const release = await locks.acquire(["cloud"]);
      try {
        // An armed cloud would die during the drain: restart it unarmed.
        if (cluster.cloud.running) await cluster.cloud.kill("SIGTERM");
        await cluster.cloud.restart();
      } finally {
        release();
      }
    }
    for (
      const component of [...cluster.agents.map((a) => a.component), cluster.fuzzAgent.component]
    ) {
      if (component.paused) component.resume();
      if (!component.running) await component.restart();
    }
    await workload.stop();
    const stats = workload.stats();
    log.line(
      `workload stopped: ${stats.writes} records written, ${stats.acknowledged} acknowledged, ${stats.rejected} rejected ${
        JSON.stringify(stats.rejectedByStatus)
      }, ${stats.unanswered} unanswered`,
    );
    violations.push(...await drain(cluster, log, options.drainTimeoutMs));

    verdicts = cluster.agents.map((agent) => {
      const sides = loadSides(agent.dataDir, cluster!.cloudDataDir, agent.deviceId);
      return checkDevice(agent.deviceId, workload!.history, sides.agent, sides.cloud);
    });
    for (const verdict of verdicts) {
      log.line(
        `check: ${verdict.deviceId} checked ${verdict.checked} writes, cloud holds ${verdict.cloudRecords}: lost=${verdict.lost} duplicated=${verdict.duplicated} phantom=${verdict.phantom} unacked_committed=${verdict.unacknowledgedCommitted} rejected_stored=${verdict.rejectedStored} lost_locally=${verdict.lostLocally}`,
      );
      for (const example of verdict.examples) log.line(`check:   ${example}`);
      if (verdict.rejectedStored) {
        violations.push(
          `${verdict.deviceId}: ${verdict.rejectedStored} rejected writes were stored`,
        );
      }
      if (verdict.lostLocally) {
        violations.push(
          `${verdict.deviceId}: ${verdict.lostLocally} acknowledged writes missing on the agent`,
        );
      }
    }
    // The per-device row counters (kept at ingest) must equal what is stored after all this.
    const counters = cloudCounterMismatches(cluster.cloudDataDir);
    log.line(
      `check: row counters ${counters.length ? "DIFFER" : "equal count(*)"} for every device`,
    );
    violations.push(...counters.map((line) => `row counters: ${line}`));
    // The fuzz agent has no workload history; it must still match the cloud exactly.
    const fuzzSides = loadSides(
      cluster.fuzzAgent.dataDir,
      cluster.cloudDataDir,
      cluster.fuzzAgent.deviceId,
    );
    const fuzzCompare = compareRecords(fuzzSides.agent.records, fuzzSides.cloud.records);
    const fuzzProblems = fuzzCompare.lost.length + fuzzCompare.phantom.length +
      fuzzCompare.mismatched.length + fuzzSides.cloud.duplicateSeqs.length;
    if (fuzzProblems) {
      violations.push(
        `fuzz agent vs cloud: lost ${fuzzCompare.lost.length}, phantom ${fuzzCompare.phantom.length}, mismatched ${fuzzCompare.mismatched.length} (first ${
          [...fuzzCompare.lost, ...fuzzCompare.phantom].slice(0, 5)
        })`,
      );
    }
    for (const [kind, minimum] of Object.entries(options.soakMinutes ? {} : options.counts)) {
      if (counts[kind as FaultKind] < minimum) {
        violations.push(
          `only ${counts[kind as FaultKind]} ${kind} faults completed of ${minimum} planned`,
        );
      }
    }
  } catch (error) {
    violations.push(`run aborted: ${(error as Error).message}`);
    log.line(
      `ABORTED: ${error instanceof PreflightError ? error.message : (error as Error).stack}`,
    );
  } finally {
    stopping = true;
    Deno.removeSignalListener("SIGINT", interrupt);
    Deno.removeSignalListener("SIGTERM", interrupt);
    await workload?.stop();
    await cluster?.shutdown().catch((error) => log.line(`shutdown: ${error}`));
    await topology?.teardown().catch((error) => log.line(`teardown: ${error}`));
  }

  violations.push(...crashes.map((line) => line.split("\n")[0]));
  const stats = workload?.stats();
  const sum = (key: keyof DeviceVerdict) => verdicts.reduce((n, v) => n + (v[key] as number), 0);
  const passed = violations.length === 0 && sum("lost") === 0 && sum("duplicated") === 0 &&
    sum("phantom") === 0 && verdicts.length > 0;
  const fields = [
    `seed=${options.seed}`,
    `writes=${stats?.writes ?? 0}`,
    `acknowledged=${stats?.acknowledged ?? 0}`,
    `lost=${sum("lost")}`,
    `duplicated=${sum("duplicated")}`,
    `phantom=${sum("phantom")}`,
    `unacked_committed=${sum("unacknowledgedCommitted")}`,
    `rejected=${stats?.rejected ?? 0}`,
    ...SUMMARY_KEYS.map(([kind, name]) => `${name}=${counts[kind]}`),
    `fuzz=${fuzz?.inputs ?? 0}`,
    `fuzz_5xx=${fuzz?.serverErrors ?? 0}`,
    `crashes=${crashes.length + (fuzz?.crashes ?? 0)}`,
    `violations=${violations.length}`,
    `duration=${(log.elapsed() / 1000).toFixed(0)}s`,
    `result=${passed ? "PASS" : "FAIL"}`,
  ];
  const summary = `chaos: ${fields.join(" ")}`;
  for (const violation of violations) log.line(`VIOLATION: ${violation}`);
  log.line(summary);
  if (workload) {
    await writeRunFiles(runDir, {
      workload,
      faults,
      cluster,
      extra: {
        options,
        summary,
        violations,
        verdicts,
        counts,
        fuzz: fuzz &&
          {
            ...fuzz,
            mqtt: {
              ...fuzz.mqtt,
              expectedSeqs: fuzz.mqtt.expectedSeqs.size,
              maybeSeqs: fuzz.mqtt.maybeSeqs.size,
              expectedPayloads: fuzz.mqtt.expectedPayloads.size,
            },
          },
        growth,
      },
    }).catch((error) => log.line(`cannot write the run files: ${error}`));
  }
  await log.flush();
  if (passed && !options.keep && !options.runDir) {
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
  } else {
    log.line(`run dir kept: ${runDir}`);
  }
  return { passed, summary, violations, runDir };
}
