/**
 * The fuzz phase: HTTP fuzz of the fuzz agent and of the cloud, ingest fuzz through a hostile
 * device, then the accounting that proves rejected input stored nothing — rows on the agent,
 * devices, commands and desired versions in the cloud each match what was accepted — and that
 * nothing crashed or answered 5xx (client side, or logged by the server).
 * @module
 */
import Database from "libsql";
import type { Cluster, Component } from "../cluster.ts";
import type { Rng } from "../rng.ts";
import type { RunLog } from "../run_log.ts";
import { CSRF_FIELD } from "@outpost/web/session";
import { discoverEndpoints, fuzzHttp, type HttpFuzzResult, type HttpTarget } from "./http.ts";
import { fuzzMqtt, type MqttFuzzResult } from "./mqtt.ts";

/** The device the ingest fuzz enrolls and publishes as. */
export const HOSTILE_DEVICE = "chaos-hostile";

/**
 * The device the routes that revoke, decommission, reset or delete a device are fuzzed on,
 * so they never cut off the fuzz agent (whose records must still match the cloud's).
 */
export const SACRIFICED_DEVICE = "chaos-sacrificed";

/** Routes that change a device's identity or lifecycle (fuzzed on {@link SACRIFICED_DEVICE}). */
function isLifecycleRoute(method: string, path: string): boolean {
  return /\/(revoke|decommission|reinstate|reset-position|lifecycle)$/.test(path) ||
    (method === "DELETE" && path.startsWith("/api/v1/devices/"));
}

/** Everything the fuzz phase found. */
export interface FuzzReport {
  inputs: number;
  agent: HttpFuzzResult;
  cloud: HttpFuzzResult;
  mqtt: MqttFuzzResult;
  /** 5xx answers plus server-side failures in the logs. */
  serverErrors: number;
  crashes: number;
  /** Broken rules, one line each. */
  violations: string[];
  /** What was fuzzed: `METHOD path` of every endpoint found, per server. */
  endpoints: { agent: string[]; cloud: string[] };
}

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  inputs: number;
  rng: Rng;
  log: RunLog;
  /** The fuzz agent's API token. */
  apiToken: string;
}

function query<T>(path: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

interface CloudCounts {
  devices: Set<string>;
  commands: number;
  desiredVersions: number;
}

function cloudCounts(cloudDb: string): CloudCounts {
  return {
    devices: new Set(query<{ id: string }>(cloudDb, "SELECT id FROM devices").map((r) => r.id)),
    commands: query<{ n: number }>(cloudDb, "SELECT count(*) AS n FROM commands")[0].n,
    desiredVersions: Number(
      query<{ n: number }>(cloudDb, "SELECT coalesce(sum(desired_version), 0) AS n FROM devices")[0]
        .n,
    ),
  };
}

function agentCounts(agentDb: string): { readings: number; events: number } {
  return {
    readings: query<{ n: number }>(agentDb, "SELECT count(*) AS n FROM readings")[0].n,
    events: query<{ n: number }>(agentDb, "SELECT count(*) AS n FROM events")[0].n,
  };
}

/** Server-side failures in a component's log: each is a 5xx or a failed ingest. */
function serverFailures(component: Component): string[] {
  return component.allOutput().filter((line) =>
    line.includes('"msg":"request failed"') || line.includes('"msg":"ingest task failed"') ||
    line.includes('"reason":"store_error"')
  );
}

/** Logs in to a console with its token; the CSRF token is read from `csrfPage`. */
async function login(
  baseUrl: string,
  token: string,
  csrfPage: string,
): Promise<HttpTarget["session"]> {
  const response = await fetch(`${baseUrl}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: baseUrl },
    body: new URLSearchParams({ token, next: csrfPage }),
    redirect: "manual",
  });
  await response.body?.cancel();
  const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0];
  if (!cookie) return undefined;
  const page = await (await fetch(`${baseUrl}${csrfPage}`, { headers: { cookie } })).text();
  const csrf = new RegExp(`name="${CSRF_FIELD}" value="([^"]+)"`).exec(page)?.[1];
  return csrf ? { cookie, csrf } : undefined;
}

/** Runs the whole fuzz phase against the cluster's fuzz agent and cloud. */
export async function runFuzz(cluster: Cluster, options: FuzzOptions): Promise<FuzzReport> {
  const { rng, log } = options;
  const fuzzAgent = cluster.fuzzAgent;
  const agentDb = `${fuzzAgent.dataDir}/agent.db`;
  const cloudDb = `${cluster.cloudDataDir}/cloud.db`;
  const mqttInputs = Math.round(options.inputs * 0.15);
  const httpInputs = options.inputs - mqttInputs;
  const violations: string[] = [];

  const agentBefore = agentCounts(agentDb);
  const cloudBefore = cloudCounts(cloudDb);
  const failuresBefore = serverFailures(fuzzAgent.component).length +
    serverFailures(cluster.cloud).length;
  const restartsBefore = fuzzAgent.component.restarts + cluster.cloud.restarts;

  const agentTarget: HttpTarget = {
    name: "agent",
    baseUrl: fuzzAgent.component.url,
    bearer: options.apiToken,
    ids: { id: [] },
    learnIds: { "POST /api/v1/events": "id" },
    session: await login(fuzzAgent.component.url, options.apiToken, "/events"),
    samples: {
      "POST /api/v1/readings": (r, n) => {
        const one = (i: number) => ({
          sensor: `fz.${n}`,
          value: n + i / 100,
          unit: "C",
          ts: new Date().toISOString(),
        });
        return r.chance(0.5) ? one(0) : Array.from({ length: r.int(1, 20) }, (_, i) => one(i));
      },
      "POST /api/v1/events": (r, n) => ({
        kind: "fz",
        severity: r.pick(["info", "warning", "critical"]),
        message: `fuzz ${n}`,
        data: { n, nested: { ok: true } },
      }),
      "POST /events": (_r, n) => ({ kind: "fz", severity: "info", message: `fuzz form ${n}` }),
      "POST /login": (r) => ({ token: r.chance(0.3) ? options.apiToken : "wrong", next: "/" }),
      "POST /logout": () => ({}),
    },
  };
  if (!agentTarget.session) violations.push("fuzz: could not log in to the fuzz agent's UI");
  const sacrificed = await fetch(`${cluster.cloudUrl}/api/v1/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      deviceId: SACRIFICED_DEVICE,
      token: cluster.enrollToken,
      deviceSecret: "chaos-sacrificed-device-secret-0123456789ab",
    }),
  });
  await sacrificed.body?.cancel();
  if (!sacrificed.ok) violations.push(`fuzz: could not enroll ${SACRIFICED_DEVICE}`);
  const cloudTarget: HttpTarget = {
    name: "cloud",
    baseUrl: cluster.cloudUrl,
    bearer: cluster.adminToken,
    ids: { id: [fuzzAgent.deviceId], cid: [] },
    idsFor: (method, path) =>
      isLifecycleRoute(method, path) ? { id: [SACRIFICED_DEVICE] } : undefined,
    learnIds: { "POST /api/v1/devices/{id}/commands": "cid" },
    samples: {
      "POST /api/v1/enroll": (r, n) => ({
        deviceId: `fz-e${n}`,
        token: r.chance(0.3) ? cluster.enrollToken : "wrong-token-0123456789abcdef",
        arch: "x86_64",
        version: "fuzz",
        labels: { site: "fuzz" },
      }),
      "PUT /api/v1/devices/{id}/desired": (r, n) => ({ logLevel: r.pick(["info", "warn"]), n }),
      "POST /api/v1/enrollment-tokens": (r, n) => ({
        name: `fuzz ${n}`,
        labels: { site: "fuzz" },
        maxUses: r.int(1, 5),
      }),
      "POST /api/v1/devices/{id}/reinstate": (r) => ({ resetSecret: r.chance(0.5) }),
      "POST /api/v1/devices/{id}/reset-position": (r) => ({ ackedSeq: r.pick([0, 1, 10]) }),
      "POST /devices/{id}/lifecycle": (r) => ({
        action: r.pick(["revoke", "reinstate", "decommission", "reset-position", "delete"]),
        data: r.pick(["keep", "purge"]),
      }),
      "POST /api/v1/devices/{id}/commands": (r) => ({
        name: r.pick(["ping", "resync", "set-log-level", "no-such-command"]),
        args: { level: "info" },
      }),
      "POST /devices/{id}/desired": (r, n) => ({
        desired: JSON.stringify({ logLevel: r.pick(["info", "warn"]), n }),
      }),
      "POST /devices/{id}/commands": (r) => ({
        name: r.pick(["ping", "resync", "set-log-level"]),
        level: "info",
      }),
      "POST /login": (r) => ({ token: r.chance(0.3) ? cluster.adminToken : "wrong", next: "/" }),
      "POST /logout": () => ({}),
    },
    session: await login(cluster.cloudUrl, cluster.adminToken, `/devices/${fuzzAgent.deviceId}`),
  };
  if (!cloudTarget.session) violations.push("fuzz: could not log in to the fleet console");

  const agentEndpoints = await discoverEndpoints(agentTarget.baseUrl, {
    headers: {
      authorization: `Bearer ${options.apiToken}`,
      cookie: agentTarget.session?.cookie ?? "",
    },
  });
  // Device pages are found under real ids; fuzz them as one route with ids of our choosing,
  // so the workload agents never get the fuzzer's desired state or commands.
  const cloudEndpoints = await discoverEndpoints(cloudTarget.baseUrl, {
    headers: { cookie: cloudTarget.session?.cookie ?? "" },
    template: (path) => path.replace(/^\/devices\/[^/]+/, "/devices/{id}"),
  });
  log.line(
    `fuzz: ${agentEndpoints.length} agent endpoints, ${cloudEndpoints.length} cloud endpoints, ` +
      `${httpInputs} HTTP + ${mqttInputs} MQTT inputs`,
  );
  const agentInputs = Math.round(httpInputs / 2);
  const [agent, cloud] = await Promise.all([
    fuzzHttp(agentTarget, agentEndpoints, {
      inputs: agentInputs,
      concurrency: 4,
      rng: rng.fork(),
      progress: (n) => log.line(`fuzz: agent HTTP ${n}/${agentInputs}`),
    }),
    fuzzHttp(cloudTarget, cloudEndpoints, {
      inputs: httpInputs - agentInputs,
      concurrency: 4,
      rng: rng.fork(),
      progress: (n) => log.line(`fuzz: cloud HTTP ${n}/${httpInputs - agentInputs}`),
    }),
  ]);
  for (const [name, result] of [["agent", agent], ["cloud", cloud]] as const) {
    for (const slow of result.slowest.slice(0, 3)) {
      log.line(`fuzz: slowest ${name} answer ${slow.ms} ms (${slow.status}): ${slow.request}`);
    }
  }
  const mqtt = await fuzzMqtt({
    cloudUrl: cluster.cloudUrl,
    enrollToken: cluster.enrollToken,
    deviceId: HOSTILE_DEVICE,
    victim: fuzzAgent.deviceId,
    inputs: mqttInputs,
    rng: rng.fork(),
    progress: (n) => log.line(`fuzz: MQTT ${n}/${mqttInputs}`),
  });

  // Rejected input must have stored nothing: every row is explained by an accepted input.
  const agentAfter = agentCounts(agentDb);
  const readingsAccepted = agent.accepted["POST /api/v1/readings"] ?? 0;
  const eventsAccepted = (agent.accepted["POST /api/v1/events"] ?? 0) +
    (agent.accepted["POST /events"] ?? 0);
  if (agentAfter.readings - agentBefore.readings !== readingsAccepted) {
    violations.push(
      `fuzz: the agent stored ${
        agentAfter.readings - agentBefore.readings
      } readings but accepted ${readingsAccepted}`,
    );
  }
  if (agentAfter.events - agentBefore.events !== eventsAccepted) {
    violations.push(
      `fuzz: the agent stored ${
        agentAfter.events - agentBefore.events
      } events but accepted ${eventsAccepted}`,
    );
  }
  const cloudAfter = cloudCounts(cloudDb);
  const expectedDevices = new Set([
    ...cloudBefore.devices,
    ...cloud.createdIds,
    HOSTILE_DEVICE,
    SACRIFICED_DEVICE,
    // The fuzzed agent enrolls itself, and it is ready before it has enrolled: seed 4182497464
    // (NATS) took the "before" list at +1.5 s and the agent enrolled 40 ms later.
    fuzzAgent.deviceId,
  ]);
  const unexpected = [...cloudAfter.devices].filter((id) => !expectedDevices.has(id));
  if (unexpected.length) {
    violations.push(`fuzz: devices created by rejected enrollments: ${unexpected.slice(0, 5)}`);
  }
  const commandsAccepted = (cloud.accepted["POST /api/v1/devices/{id}/commands"] ?? 0) +
    (cloud.accepted["POST /devices/{id}/commands"] ?? 0);
  if (cloudAfter.commands - cloudBefore.commands !== commandsAccepted) {
    violations.push(
      `fuzz: the cloud stored ${
        cloudAfter.commands - cloudBefore.commands
      } commands but accepted ${commandsAccepted}`,
    );
  }
  const desiredAccepted = (cloud.accepted["PUT /api/v1/devices/{id}/desired"] ?? 0) +
    (cloud.accepted["POST /devices/{id}/desired"] ?? 0);
  if (cloudAfter.desiredVersions - cloudBefore.desiredVersions !== desiredAccepted) {
    violations.push(
      `fuzz: desired versions went up by ${
        cloudAfter.desiredVersions - cloudBefore.desiredVersions
      } but ${desiredAccepted} updates were accepted`,
    );
  }
  const hostileSeqs = query<{ seq: number }>(
    cloudDb,
    "SELECT seq FROM readings WHERE device_id = ? UNION ALL SELECT seq FROM events WHERE device_id = ?",
    HOSTILE_DEVICE,
    HOSTILE_DEVICE,
  ).map((row) => Number(row.seq));
  const strays = hostileSeqs.filter((seq) =>
    !mqtt.expectedSeqs.has(seq) && !mqtt.maybeSeqs.has(seq)
  );
  const missing = [...mqtt.expectedSeqs].filter((seq) => !hostileSeqs.includes(seq));
  if (strays.length) {
    violations.push(
      `fuzz: ingest stored ${strays.length} records of rejected batches (seqs ${
        strays.slice(0, 5)
      })`,
    );
  }
  if (missing.length) {
    const example = mqtt.expectedPayloads.get(
      Math.max(...[...mqtt.expectedPayloads.keys()].filter((from) => from <= missing[0])),
    );
    violations.push(
      `fuzz: ingest lost ${missing.length} records of valid batches (seqs ${
        missing.slice(0, 5)
      }); the batch: ${example}`,
    );
  }

  const failures = [...serverFailures(fuzzAgent.component), ...serverFailures(cluster.cloud)];
  const logged = failures.length - failuresBefore;
  for (const line of failures.slice(failuresBefore, failuresBefore + 5)) {
    violations.push(`fuzz: server-side failure logged: ${line.slice(0, 400)}`);
  }
  for (const finding of [...agent.findings, ...cloud.findings]) {
    if (finding.problem === "5xx" || finding.problem.startsWith("error without")) {
      violations.push(
        `fuzz: ${finding.target} ${finding.problem} (${finding.status}) for ${finding.request}: ${
          finding.body ?? ""
        }`,
      );
    }
  }
  const crashes = fuzzAgent.component.restarts + cluster.cloud.restarts - restartsBefore +
    (fuzzAgent.component.running ? 0 : 1) + (cluster.cloud.running ? 0 : 1);
  if (crashes) violations.push(`fuzz: ${crashes} crash(es) of the fuzz agent or the cloud`);
  return {
    inputs: agent.inputs + cloud.inputs + mqtt.inputs,
    agent,
    cloud,
    mqtt,
    serverErrors: agent.serverErrors + cloud.serverErrors + Math.max(0, logged),
    crashes,
    violations,
    endpoints: {
      agent: agentEndpoints.map((e) => `${e.method} ${e.path}`),
      cloud: cloudEndpoints.map((e) => `${e.method} ${e.path}`),
    },
  };
}
