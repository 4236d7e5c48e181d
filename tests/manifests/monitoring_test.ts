// The monitoring component checked with the real promtool: the alert rules load, every alert
// fires in a unit test (tests/manifests/alerts.test.yaml), every alert has a runbook section,
// and every Grafana panel's query parses. (That the queried metrics exist, and that a real
// Prometheus scrapes and evaluates, is tests/system/prometheus_test.ts.)
import assert from "node:assert/strict";
import { REPO_ROOT } from "./kube.ts";
import {
  alertRules,
  dashboards,
  headingAnchor,
  metricNames,
  operationsDoc,
  panelQueries,
  promtool,
  resolveVariables,
  writeRulesFile,
} from "./monitoring.ts";

const UNIT_TESTS = `${REPO_ROOT}tests/manifests/alerts.test.yaml`;

async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-promtool-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("promtool check rules accepts the PrometheusRule's groups", async () => {
  await inTempDir(async (dir) => {
    const rules = await writeRulesFile(dir);
    const result = await promtool(["check", "rules", rules]);
    assert.equal(result.code, 0, result.output);
    const count = (await alertRules()).length;
    assert.match(result.output, new RegExp(`SUCCESS: ${count} rules found`));
  });
});

Deno.test("promtool test rules passes, and every alert fires in at least one case", async () => {
  const text = await Deno.readTextFile(UNIT_TESTS);
  // Each `- eval_time:` entry names one alert and what it expects.
  const firing = new Set<string>();
  for (const entry of text.split(/^\s*- eval_time:/m).slice(1)) {
    const name = /alertname: (\S+)/.exec(entry)?.[1];
    if (name && /exp_labels:/.test(entry)) firing.add(name);
  }
  const alerts = (await alertRules()).map((rule) => rule.alert);
  assert.deepEqual(alerts.filter((alert) => !firing.has(alert)), [], "alerts no case fires");
  await inTempDir(async (dir) => {
    await writeRulesFile(dir);
    await Deno.writeTextFile(`${dir}/alerts.test.yaml`, text);
    const result = await promtool(["test", "rules", `${dir}/alerts.test.yaml`]);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /SUCCESS/);
  });
});

Deno.test("every alert has a severity, a summary and a runbook section in docs/OPERATIONS.md", async () => {
  const doc = await operationsDoc();
  const anchors = new Set(
    [...doc.matchAll(/^#{2,4} (.+)$/gm)].map((match) => headingAnchor(match[1])),
  );
  for (const rule of await alertRules()) {
    assert.ok(["warning", "critical"].includes(rule.labels?.severity ?? ""), rule.alert);
    assert.ok(rule.annotations?.summary, `${rule.alert}: summary`);
    const url = rule.annotations?.runbook_url ?? "";
    const anchor = url.split("#")[1] ?? "";
    assert.match(url, /docs\/OPERATIONS\.md#/, `${rule.alert}: runbook_url`);
    assert.ok(anchors.has(anchor), `${rule.alert}: no heading for #${anchor} in OPERATIONS.md`);
  }
});

Deno.test("the three dashboards are provisioned by one ConfigMap and every panel query parses", async () => {
  const files = await dashboards();
  assert.deepEqual(Object.keys(files).sort(), [
    "outpost-device.json",
    "outpost-fleet.json",
    "outpost-ingest.json",
  ]);
  const uids = Object.values(files).map((dashboard) => dashboard.uid);
  assert.deepEqual(uids.sort(), ["outpost-device", "outpost-fleet", "outpost-ingest"]);
  const queries = await panelQueries();
  assert.ok(queries.length >= 30, `only ${queries.length} queries`);
  // promtool parses PromQL offline as recording rules: one rule per panel query.
  await inTempDir(async (dir) => {
    const rules = queries.map((query, i) => ({
      record: `dashboard:query_${i}`,
      expr: resolveVariables(query.expr),
    }));
    const file = `${dir}/dashboards.rules.json`;
    await Deno.writeTextFile(file, JSON.stringify({ groups: [{ name: "dashboards", rules }] }));
    const result = await promtool(["check", "rules", file]);
    assert.equal(result.code, 0, `a panel query does not parse:\n${result.output}`);
  });
  for (const query of queries) {
    assert.ok(metricNames(query.expr).length > 0, `${query.dashboard} ${query.panel}: no metric`);
  }
});

Deno.test("metricNames finds the series a query reads and skips functions, labels and keywords", () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="x"}[5m])))',
    ),
    ["http_request_duration_seconds_bucket"],
  );
  assert.deepEqual(
    metricNames('outpost_disk_free_bytes{a="b"} / outpost_disk_size_bytes < 0.1 and on(job) up'),
    ["outpost_disk_free_bytes", "outpost_disk_size_bytes", "up"],
  );
  assert.deepEqual(metricNames("time() - outpost_sync_last_ack_timestamp_seconds"), [
    "outpost_sync_last_ack_timestamp_seconds",
  ]);
});
