/**
 * The monitoring component as data for the tests: the PrometheusRule's groups as a Prometheus
 * rules file, the Grafana dashboards' queries, and the metric names a PromQL query reads.
 * @module
 */
import {
  findObject,
  type KubeObject,
  kustomize,
  REPO_ROOT,
  requireTool,
  runCommand,
} from "./kube.ts";

/** One alerting rule of the PrometheusRule. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The rendered PrometheusRule's `spec.groups` (from the dev overlay: all overlays share it). */
export async function ruleGroups(): Promise<{ name: string; rules: AlertRule[] }[]> {
  const objects = await kustomize("k8s/overlays/dev");
  const rule = findObject(objects, "PrometheusRule", "outpost");
  return (rule.spec as { groups: { name: string; rules: AlertRule[] }[] }).groups;
}

/** Every alert of the PrometheusRule. */
export async function alertRules(): Promise<AlertRule[]> {
  return (await ruleGroups()).flatMap((group) => group.rules);
}

/** Writes the rule groups as a Prometheus rules file (JSON is YAML) into `dir`; returns its path. */
export async function writeRulesFile(dir: string, name = "outpost.rules.json"): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, JSON.stringify({ groups: await ruleGroups() }, null, 2));
  return path;
}

/** A query of a dashboard panel. */
export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

/** The dashboards as rendered into the ConfigMap the overlays generate, by file name. */
export async function dashboards(): Promise<Record<string, Record<string, unknown>>> {
  const objects = await kustomize("k8s/overlays/dev");
  const configMap = objects.find((object: KubeObject) =>
    object.kind === "ConfigMap" && object.metadata.name.startsWith("outpost-grafana-dashboards-")
  );
  if (!configMap) throw new Error("no ConfigMap outpost-grafana-dashboards-<hash> in dev");
  const data = configMap.data as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([file, text]) => [file, JSON.parse(text)]));
}

/** Every panel query of every dashboard. */
export async function panelQueries(): Promise<PanelQuery[]> {
  const queries: PanelQuery[] = [];
  for (const [file, dashboard] of Object.entries(await dashboards())) {
    for (const panel of (dashboard.panels ?? []) as Record<string, unknown>[]) {
      for (const target of (panel.targets ?? []) as { expr?: string }[]) {
        if (target.expr) {
          queries.push({ dashboard: file, panel: String(panel.title), expr: target.expr });
        }
      }
    }
  }
  return queries;
}

/** A dashboard query with Grafana's variables replaced, as Prometheus would get it. */
export function resolveVariables(expr: string, device = "pi-1"): string {
  return expr.replaceAll("$__rate_interval", "2m").replaceAll("$device", device);
}

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "offset",
  "bool",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects: identifiers that are neither functions,
 * keywords, label names (inside `{}` or a `by (…)` list) nor parts of strings or durations.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice(match.index! + name.length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Runs promtool; fails with what is missing when it is not installed. */
export async function promtool(args: string[]): Promise<{ code: number; output: string }> {
  const path = requireTool("promtool", "prometheus");
  const result = await runCommand(path, args);
  return { code: result.code, output: result.stdout + result.stderr };
}

/** `docs/OPERATIONS.md`, whose headings are the alerts' runbook anchors. */
export async function operationsDoc(): Promise<string> {
  return await Deno.readTextFile(`${REPO_ROOT}docs/OPERATIONS.md`);
}

/** GitHub's anchor of a Markdown heading. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-");
}
