/**
 * A real Prometheus (Debian's `prometheus`, started here on a free port with its own data dir
 * and a 1 s scrape interval) scrapes a real cloud and a real agent, loads the PrometheusRule's
 * alerts and evaluates them on what it scraped; every Grafana panel query runs on it, and every
 * metric a query or an alert names is one the running agent or cloud exposes.
 */
import assert from "node:assert/strict";
import { requireTool } from "../manifests/kube.ts";
import {
  alertRules,
  metricNames,
  panelQueries,
  resolveVariables,
  writeRulesFile,
} from "../manifests/monitoring.ts";
import { freePort, postJson, type RunningProcess, spawnProcess } from "../support/process.ts";
import { type AgentHandle, eventually, startAgentProcess, startCloud } from "../support/stack.ts";
import { waitDrained } from "../support/sync_checks.ts";
import { createTestPki } from "../support/tls.ts";

const DEVICE = "prom-dev-1";

/** Metric names a `/metrics` text declares (`# TYPE`), with a histogram's series names. */
function declaredNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    }
  }
  return names;
}

interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

async function promQuery(base: string, query: string) {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
  return await response.json() as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
}

Deno.test("a real Prometheus scrapes a real agent and cloud, evaluates the alerts, and answers every dashboard query", async () => {
  const prometheusPath = requireTool("prometheus", "prometheus");
  const pki = await createTestPki();
  const cloud = await startCloud({
    // Both certificates expire in about two days: the expiry alerts must see it.
    env: { OUTPOST_CERT_FILES: `cloud=${pki.caCert},mqtt=${pki.serverCert}` },
  });
  let agent: AgentHandle | undefined;
  let prometheus: RunningProcess | undefined;
  const dir = await Deno.makeTempDir({ prefix: "outpost-prometheus-" });
  try {
    agent = await startAgentProcess({ deviceId: DEVICE, cloudUrl: cloud.url });
    const written = await postJson(`${agent.url}/api/v1/readings`, [
      { sensor: "t", value: 1 },
      { sensor: "t", value: 2 },
    ]);
    assert.equal(written.status, 201);
    await waitDrained(agent);

    const rules = await writeRulesFile(dir);
    const port = freePort();
    const target = (url: string) => new URL(url).host;
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      JSON.stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [rules],
        scrape_configs: [
          { job_name: "outpost-cloud", static_configs: [{ targets: [target(cloud.url)] }] },
          {
            job_name: "outpost-agent",
            // As the PodMonitor labels an agent's series with its node (= device) name.
            static_configs: [{ targets: [target(agent.url)], labels: { device: DEVICE } }],
          },
        ],
      }),
    );
    prometheus = spawnProcess(prometheusPath, [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    const base = `http://127.0.0.1:${port}`;
    await eventually(
      async () => {
        const up = await promQuery(base, "up");
        const jobs = (up.data?.result ?? []).filter((series) => series.value[1] === "1")
          .map((series) => series.metric.job).sort();
        return jobs.join(",") === "outpost-agent,outpost-cloud";
      },
      "Prometheus to scrape both targets",
      60_000,
    ).catch((error) => {
      throw new Error(`${error.message}\n${prometheus?.output.slice(-20).join("\n")}`);
    });

    // The rules evaluate on the scraped series: both certificates are under 7 days.
    await eventually(
      async () => {
        const response = await (await fetch(`${base}/api/v1/alerts`)).json();
        const alerts: PromAlert[] = response.data.alerts;
        const expiring = alerts.filter((alert) =>
          alert.labels.alertname === "OutpostCertificateExpiring"
        )
          .map((alert) => `${alert.labels.job}/${alert.labels.certificate}:${alert.state}`).sort();
        return expiring.join(",") === "outpost-cloud/cloud:pending,outpost-cloud/mqtt:pending";
      },
      "OutpostCertificateExpiring to be pending for both certificates",
      60_000,
    );
    const rulesState = await (await fetch(`${base}/api/v1/rules`)).json();
    const evaluated = rulesState.data.groups.flatMap((
      group: { rules: { name: string; health: string }[] },
    ) => group.rules);
    assert.equal(evaluated.length, (await alertRules()).length);
    for (const rule of evaluated) assert.equal(rule.health, "ok", `${rule.name} evaluates`);
    const fleet = await promQuery(base, 'outpost_devices{job="outpost-cloud",state="online"}');
    assert.equal(fleet.data?.result[0]?.value[1], "1", "the cloud counts the agent online");
    const pending = await promQuery(base, `outpost_outbox_pending{device="${DEVICE}"}`);
    assert.equal(pending.data?.result[0]?.value[1], "0", "the agent's backlog drained");

    // Every dashboard query runs, and names only metrics the running programs expose.
    const exposed = new Set(["up"]);
    for (const url of [cloud.url, agent.url]) {
      for (const name of declaredNames(await (await fetch(`${url}/metrics`)).text())) {
        exposed.add(name);
      }
    }
    const unknown: string[] = [];
    for (const query of await panelQueries()) {
      const result = await promQuery(base, resolveVariables(query.expr, DEVICE));
      assert.equal(
        result.status,
        "success",
        `${query.dashboard} "${query.panel}": ${result.error}`,
      );
      for (const name of metricNames(query.expr)) {
        if (!exposed.has(name)) unknown.push(`${query.dashboard} "${query.panel}": ${name}`);
      }
    }
    for (const rule of await alertRules()) {
      for (const name of metricNames(rule.expr)) {
        if (!exposed.has(name)) unknown.push(`alert ${rule.alert}: ${name}`);
      }
    }
    assert.deepEqual(unknown, [], "queries naming metrics nobody exposes");
    const device = await promQuery(
      base,
      resolveVariables('outpost_sync_state{job="outpost-agent", device="$device"} == 1', DEVICE),
    );
    assert.equal(device.data?.result[0]?.metric.state, "online", "the device dashboard's state");
  } finally {
    await prometheus?.stop();
    await agent?.process.stop();
    await cloud.process.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});
