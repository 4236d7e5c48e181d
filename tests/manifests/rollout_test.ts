// Rollouts with offline nodes, checked offline on the rendered overlays: every node gets exactly
// one agent DaemonSet (the default one or its site's), no DaemonSet claims another's pods, each
// site directory is consistent with the default's NotIn list, and, in a model of the DaemonSet
// controller (rollout.ts), an offline site holds only its own rollout while the single
// DaemonSet this replaced stalled the whole fleet. docs/DEPLOYMENT.md, "Rollouts with offline
// nodes", says what was and was not proven.
import assert from "node:assert/strict";
import { type KubeObject, kustomize, OVERLAYS, podSpec, REPO_ROOT, workloads } from "./kube.ts";
import {
  type FleetNode,
  maxUnavailableOf,
  requirementHolds,
  selectorMatches,
  simulateRollout,
  templateLabels,
  wantsNode,
} from "./rollout.ts";

const SITE_LABEL = "outpost.dev/site";

/** The site directories of an overlay (k8s/overlays/<overlay>/apps/sites/<site>/). */
async function siteDirectories(overlay: string): Promise<string[]> {
  const sites: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${REPO_ROOT}k8s/overlays/${overlay}/apps/sites`)) {
      if (entry.isDirectory) sites.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return sites.sort();
}

function agentDaemonSets(objects: KubeObject[]): KubeObject[] {
  return workloads(objects).filter((workload) =>
    workload.kind === "DaemonSet" && workload.metadata.name.startsWith("outpost-agent")
  );
}

/** The labels a node of this overlay's cluster carries, whatever its site. */
function nodeLabels(overlay: string, arch = "amd64"): Record<string, string> {
  const labels: Record<string, string> = {
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": arch,
  };
  // dev is K3s (components/k3s); the edge overlays are KubeEdge (components/kubeedge).
  if (overlay === "dev") labels["node.kubernetes.io/instance-type"] = "k3s";
  else labels["node-role.kubernetes.io/edge"] = "";
  return labels;
}

function fleet(overlay: string, groups: Record<string, { size: number; offline: number }>) {
  const nodes: FleetNode[] = [];
  for (const [group, { size, offline }] of Object.entries(groups)) {
    for (let i = 0; i < size; i++) {
      const labels = nodeLabels(overlay, i % 2 ? "arm64" : "amd64");
      if (group !== "none") labels[SITE_LABEL] = group;
      nodes.push({ name: `${group}-${i}`, labels, online: i >= offline });
    }
  }
  return nodes;
}

for (const overlay of OVERLAYS) {
  Deno.test(`${overlay}: every edge node gets exactly one agent DaemonSet, whatever its site label`, async () => {
    const daemonSets = agentDaemonSets(await kustomize(`k8s/overlays/${overlay}`));
    const sites = await siteDirectories(overlay);
    const cases: [string, Record<string, string>][] = [
      ["no site label", nodeLabels(overlay)],
      ["an unlisted site", { ...nodeLabels(overlay, "arm64"), [SITE_LABEL]: "not-listed" }],
      ...sites.map((site): [string, Record<string, string>] => [
        `site ${site}`,
        { ...nodeLabels(overlay), [SITE_LABEL]: site },
      ]),
    ];
    for (const [what, labels] of cases) {
      const node = { name: what, labels, online: true };
      const wanting = daemonSets.filter((daemonSet) => wantsNode(podSpec(daemonSet), node))
        .map((daemonSet) => daemonSet.metadata.name);
      const expected = sites.includes(labels[SITE_LABEL])
        ? `outpost-agent-${labels[SITE_LABEL]}`
        : "outpost-agent";
      assert.deepEqual(wanting, [expected], `${overlay}, a node with ${what}`);
    }
    if (overlay !== "dev") {
      // Cloud nodes of a KubeEdge cluster get none.
      const cloudNode = {
        name: "cloud",
        labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" },
        online: true,
      };
      assert.deepEqual(
        daemonSets.filter((daemonSet) => wantsNode(podSpec(daemonSet), cloudNode)),
        [],
      );
    }
  });

  Deno.test(`${overlay}: each agent DaemonSet claims its own pods only`, async () => {
    const daemonSets = agentDaemonSets(await kustomize(`k8s/overlays/${overlay}`));
    for (const owner of daemonSets) {
      for (const other of daemonSets) {
        assert.equal(
          selectorMatches(owner, templateLabels(other)),
          owner === other,
          `${owner.metadata.name}'s selector and ${other.metadata.name}'s pods`,
        );
      }
    }
  });

  Deno.test(`${overlay}: every site directory makes one DaemonSet for its nodes, and the default leaves them to it`, async () => {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    const daemonSets = agentDaemonSets(objects);
    const sites = await siteDirectories(overlay);
    assert.deepEqual(
      daemonSets.map((daemonSet) => daemonSet.metadata.name).sort(),
      ["outpost-agent", ...sites.map((site) => `outpost-agent-${site}`)].sort(),
    );
    for (const site of sites) {
      const daemonSet = daemonSets.find((candidate) =>
        candidate.metadata.name === `outpost-agent-${site}`
      )!;
      assert.equal(templateLabels(daemonSet)[SITE_LABEL], site);
      assert.equal(podSpec(daemonSet).nodeSelector?.[SITE_LABEL], site);
      assert.equal(daemonSet.metadata.namespace, "outpost-edge");
    }
    const defaultSet = daemonSets.find((candidate) => candidate.metadata.name === "outpost-agent")!;
    const notIn =
      podSpec(defaultSet).affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
        ?.nodeSelectorTerms.flatMap((term) => term.matchExpressions ?? [])
        .filter((requirement) => requirement.key === SITE_LABEL) ?? [];
    if (sites.length === 0) assert.deepEqual(notIn, []);
    else assert.deepEqual(notIn, [{ key: SITE_LABEL, operator: "NotIn", values: sites }]);
  });
}

Deno.test("the node-selector model follows Kubernetes: NotIn holds for a node without the label", () => {
  assert.equal(requirementHolds({ key: "k", operator: "NotIn", values: ["a"] }, {}), true);
  assert.equal(requirementHolds({ key: "k", operator: "NotIn", values: ["a"] }, { k: "a" }), false);
  assert.equal(requirementHolds({ key: "k", operator: "In", values: ["a"] }, {}), false);
  assert.equal(requirementHolds({ key: "k", operator: "Exists" }, { k: "" }), true);
  assert.equal(requirementHolds({ key: "k", operator: "DoesNotExist" }, { k: "" }), false);
});

/** The layout before issue 16: one DaemonSet for every edge node, 5% at a time. */
function singleDaemonSet(objects: KubeObject[]): KubeObject {
  const layout = structuredClone(
    agentDaemonSets(objects).find((daemonSet) => daemonSet.metadata.name === "outpost-agent")!,
  );
  const spec = layout.spec as { updateStrategy: { rollingUpdate: { maxUnavailable: string } } };
  spec.updateStrategy.rollingUpdate.maxUnavailable = "5%";
  for (
    const term of podSpec(layout).affinity!.nodeAffinity!
      .requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms
  ) {
    term.matchExpressions = term.matchExpressions?.filter((requirement) =>
      requirement.key !== SITE_LABEL
    );
  }
  return layout;
}

Deno.test("edge-production: an offline site holds only its own rollout; one DaemonSet for all stalled everywhere (model)", async () => {
  const objects = await kustomize("k8s/overlays/edge-production");
  // 80 nodes: a whole site offline (its uplink is down) and one more node elsewhere.
  const nodes = fleet("edge-production", {
    none: { size: 40, offline: 1 },
    plant1: { size: 30, offline: 0 },
    trucks: { size: 10, offline: 10 },
  });
  const online = nodes.filter((node) => node.online).length;

  const before = simulateRollout(singleDaemonSet(objects), nodes);
  assert.equal(before.maxUnavailable, 4, "5% of 80, rounded up");
  assert.deepEqual(before.updated, [], "11 offline nodes exhaust the whole fleet's budget");
  assert.equal(before.stuck.length, online);

  const results = agentDaemonSets(objects).map((daemonSet) => simulateRollout(daemonSet, nodes));
  const updated = results.flatMap((result) => result.updated);
  const stuck = results.flatMap((result) => result.stuck);
  assert.equal(updated.length, online, "every online node gets the new agent");
  assert.deepEqual(stuck, []);
  const trucks = results.find((result) => result.daemonSet === "outpost-agent-trucks")!;
  assert.equal(trucks.offline.length, 10);
  console.log(
    results.map((result) =>
      `${result.daemonSet}: maxUnavailable ${result.maxUnavailable}, updated ${result.updated.length}, ` +
      `offline ${result.offline.length}, stuck ${result.stuck.length}`
    ).join("\n"),
  );
});

Deno.test("edge-production: a site's rollout goes on while fewer than its maxUnavailable nodes are offline (model)", async () => {
  const objects = await kustomize("k8s/overlays/edge-production");
  const plant1 = agentDaemonSets(objects).find((daemonSet) =>
    daemonSet.metadata.name === "outpost-agent-plant1"
  )!;
  for (const size of [3, 10, 30]) {
    const bound = maxUnavailableOf(plant1, size);
    for (const offline of [0, bound - 1, bound]) {
      if (offline < 0) continue;
      const result = simulateRollout(
        plant1,
        fleet("edge-production", { plant1: { size, offline } }),
      );
      const finished = result.stuck.length === 0;
      assert.equal(
        finished,
        offline < bound,
        `${size} nodes, ${offline} offline, maxUnavailable ${bound}`,
      );
      if (!finished) assert.deepEqual(result.updated, [], "a stalled site replaces nothing");
    }
  }
});
