/**
 * Offline models of what the Kubernetes scheduler and the DaemonSet controller do with the
 * rendered agent DaemonSets: which DaemonSets want a node (nodeSelector and required node
 * affinity), which pods a selector claims, and how far a rolling update gets when some nodes are
 * offline. The rollout model follows the controller's rolling update with `maxSurge: 0`
 * (kubernetes pkg/controller/daemon/update.go): `maxUnavailable` is a count or a percentage of
 * the nodes that want the DaemonSet, rounded up (at least 1); a node whose pod is not available,
 * an offline one included, counts against it; an available old pod is replaced only while fewer
 * than `maxUnavailable` are unavailable. It is a model, not the controller: it was not checked
 * against a cluster here.
 * @module
 */
import type { KubeObject, PodSpec } from "./kube.ts";
import { podSpec } from "./kube.ts";

/** A node of a simulated fleet. */
export interface FleetNode {
  name: string;
  labels: Record<string, string>;
  /** An offline node's pod is unavailable, and cannot be replaced until it returns. */
  online: boolean;
}

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

/** Whether one node-selector requirement holds for these labels (Kubernetes semantics). */
export function requirementHolds(requirement: Requirement, labels: Record<string, string>) {
  const value = labels[requirement.key];
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      // A node without the label is not in the set.
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    default:
      throw new Error(`node-selector operator ${requirement.operator} is not modelled here`);
  }
}

/** Whether a pod template may run on the node: its nodeSelector and required node affinity. */
export function wantsNode(spec: PodSpec, node: FleetNode): boolean {
  for (const [key, value] of Object.entries(spec.nodeSelector ?? {})) {
    if (node.labels[key] !== value) return false;
  }
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
    ?.nodeSelectorTerms;
  if (!terms?.length) return true;
  // Terms are ORed, the requirements of a term ANDed.
  return terms.some((term) =>
    (term.matchExpressions ?? []).every((requirement) => requirementHolds(requirement, node.labels))
  );
}

/** Whether a workload's label selector matches these pod labels. */
export function selectorMatches(workload: KubeObject, labels: Record<string, string>): boolean {
  const selector = (workload.spec as {
    selector: { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] };
  }).selector;
  return Object.entries(selector.matchLabels ?? {}).every(([key, value]) =>
    labels[key] === value
  ) &&
    (selector.matchExpressions ?? []).every((requirement) => requirementHolds(requirement, labels));
}

/** The pod labels of a workload's template. */
export function templateLabels(workload: KubeObject): Record<string, string> {
  return (workload.spec as { template: { metadata: { labels: Record<string, string> } } })
    .template.metadata.labels;
}

/** `maxUnavailable` as a number of nodes, as the controller computes it. */
export function maxUnavailableOf(daemonSet: KubeObject, wanted: number): number {
  const value = (daemonSet.spec as {
    updateStrategy: { rollingUpdate: { maxUnavailable: number | string } };
  }).updateStrategy.rollingUpdate.maxUnavailable;
  const count = typeof value === "number" ? value : Math.ceil((parseInt(value, 10) / 100) * wanted);
  // With maxSurge 0 the controller never lets it be 0.
  return Math.max(count, 1);
}

/** What a simulated rolling update of one DaemonSet reached. */
export interface RolloutResult {
  daemonSet: string;
  /** Online nodes now running the new pod. */
  updated: string[];
  /** Online nodes still on the old pod when the rollout could go no further. */
  stuck: string[];
  /** Offline nodes (never updated while offline). */
  offline: string[];
  maxUnavailable: number;
}

/**
 * Rolls a new template out to every node the DaemonSet wants, in rounds: at the start of a round
 * the pods replaced in the previous one are available; then available old pods are replaced while
 * the unavailable ones (offline nodes and pods being replaced) stay below maxUnavailable. Ends
 * when a round replaces nothing.
 */
export function simulateRollout(daemonSet: KubeObject, nodes: FleetNode[]): RolloutResult {
  const spec = podSpec(daemonSet);
  const wanted = nodes.filter((node) => wantsNode(spec, node));
  const max = maxUnavailableOf(daemonSet, wanted.length);
  const offline = wanted.filter((node) => !node.online).map((node) => node.name);
  const old = wanted.filter((node) => node.online).map((node) => node.name);
  const updated: string[] = [];
  let replacing: string[] = [];
  for (let round = 0; round < 10_000; round++) {
    updated.push(...replacing);
    replacing = [];
    const budget = max - offline.length;
    while (replacing.length < budget && old.length > 0) replacing.push(old.shift()!);
    if (replacing.length === 0) break;
  }
  return { daemonSet: daemonSet.metadata.name, updated, stuck: old, offline, maxUnavailable: max };
}
