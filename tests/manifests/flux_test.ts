import assert from "node:assert/strict";
import {
  brokerOf,
  findObject,
  type KubeObject,
  kustomize,
  objectId,
  OVERLAYS,
  REPO_ROOT,
  schemaProblems,
} from "./kube.ts";

const FLUX_KINDS = ["GitRepository", "Kustomization", "Provider", "Alert"];
const IMAGE_AUTOMATION_KINDS = ["ImageRepository", "ImagePolicy", "ImageUpdateAutomation"];
/** Clusters whose Flux picks image tags itself; production runs only promoted tags. */
const AUTOMATED = ["dev", "edge-staging"];

interface FluxKustomizationSpec {
  interval?: string;
  retryInterval?: string;
  timeout?: string;
  path?: string;
  prune?: boolean;
  wait?: boolean;
  sourceRef: { kind: string; name: string; namespace?: string };
  dependsOn?: { name: string; namespace?: string }[];
}

function kustomizations(objects: KubeObject[]): (KubeObject & { spec: FluxKustomizationSpec })[] {
  return objects.filter((object) =>
    object.apiVersion === "kustomize.toolkit.fluxcd.io/v1" && object.kind === "Kustomization"
  ) as (KubeObject & { spec: FluxKustomizationSpec })[];
}

/** The repository-relative directory of a Flux path such as `./k8s/overlays/dev`. */
function repoDir(path: string): string {
  return path.replace(/^\.\//, "").replace(/\/$/, "");
}

async function clusterObjects(cluster: string): Promise<KubeObject[]> {
  return await kustomize(`clusters/${cluster}`);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

for (const cluster of OVERLAYS) {
  Deno.test(`clusters/${cluster} builds and passes the Flux schemas with no unknown field`, async () => {
    const objects = await clusterObjects(cluster);
    assert.deepEqual(objects.flatMap(schemaProblems), []);
    const kinds = new Set(objects.map((object) => object.kind));
    for (const kind of FLUX_KINDS) assert.ok(kinds.has(kind), `clusters/${cluster} has no ${kind}`);
    for (const kind of IMAGE_AUTOMATION_KINDS) {
      assert.equal(kinds.has(kind), AUTOMATED.includes(cluster), `clusters/${cluster}: ${kind}`);
    }
  });

  Deno.test(`every Kustomization of ${cluster} waits, prunes, and sets interval, retryInterval and timeout`, async () => {
    const all = kustomizations(await clusterObjects(cluster));
    assert.ok(all.length >= 3, "root, infrastructure and apps");
    for (const { metadata, spec } of all) {
      const at = `${cluster}: Kustomization ${metadata.name}`;
      assert.equal(spec.wait, true, `${at}: wait`);
      assert.equal(spec.prune, true, `${at}: prune`);
      for (const field of ["interval", "retryInterval", "timeout"] as const) {
        assert.match(spec[field] ?? "", /^\d+(s|m|h)$/, `${at}: ${field}`);
      }
    }
  });

  Deno.test(
    `in ${cluster} the apps Kustomization depends on the infrastructure one${
      brokerOf(cluster) === "nats" ? " and the NATS broker's, which depends on it" : ""
    }`,
    async () => {
      const all = kustomizations(await clusterObjects(cluster));
      const byPath = (suffix: string) => {
        const found = all.filter(({ spec }) => repoDir(spec.path ?? "").endsWith(suffix));
        assert.equal(found.length, 1, `${cluster}: one Kustomization with path ending ${suffix}`);
        return found[0];
      };
      const infrastructure = byPath(`k8s/overlays/${cluster}/infrastructure`);
      const apps = byPath(`k8s/overlays/${cluster}/apps`);
      if (brokerOf(cluster) === "nats") {
        // cert-manager's CA and the servers' certificate (infrastructure), the auth Secret
        // (secrets), then the NATS servers, then the cloud.
        const broker = byPath(`k8s/overlays/${cluster}/broker`);
        assert.deepEqual(
          broker.spec.dependsOn?.map((dependency) => dependency.name),
          [infrastructure.metadata.name, "secrets"],
        );
        assert.deepEqual(
          apps.spec.dependsOn?.map((dependency) => dependency.name),
          [infrastructure.metadata.name, broker.metadata.name, "secrets"],
        );
        assert.equal(broker.spec.wait, true, "Ready only when the StatefulSet is (kstatus)");
        const rendered = await kustomize(repoDir(broker.spec.path ?? ""));
        findObject(rendered, "StatefulSet", "outpost-nats");
        const certificates = await kustomize(repoDir(infrastructure.spec.path ?? ""));
        findObject(certificates, "Certificate", "outpost-nats-tls");
      } else {
        // And on the Secrets decrypted from Git (secrets_test.ts).
        assert.deepEqual(
          apps.spec.dependsOn?.map((dependency) => dependency.name),
          [infrastructure.metadata.name, "secrets"],
        );
      }
      // Every dependency exists, and following them never loops.
      const names = new Map(all.map((object) => [object.metadata.name, object]));
      for (const object of all) {
        // A name on the current path again is a cycle; two paths to one name (a diamond) is not.
        const path: string[] = [];
        const visit = (name: string) => {
          assert.ok(names.has(name), `${cluster}: dependsOn names a missing Kustomization ${name}`);
          assert.ok(!path.includes(name), `${cluster}: dependsOn cycle ${[...path, name]}`);
          path.push(name);
          for (const next of names.get(name)?.spec.dependsOn ?? []) visit(next.name);
          path.pop();
        };
        visit(object.metadata.name);
      }
    },
  );

  Deno.test(`every path a Kustomization of ${cluster} applies exists and builds`, async () => {
    const objects = await clusterObjects(cluster);
    const paths = kustomizations(objects).map(({ spec }) => repoDir(spec.path ?? ""));
    assert.ok(paths.includes(`clusters/${cluster}`), "the root applies its own directory");
    for (const path of paths) {
      assert.ok(await isDirectory(`${REPO_ROOT}${path}`), `${cluster}: ${path} does not exist`);
      const rendered = await kustomize(path);
      // The SOPS directory is empty until an operator adds encrypted Secrets.
      if (path === `clusters/${cluster}/secrets`) continue;
      assert.ok(rendered.length > 0, `${cluster}: ${path} renders nothing`);
    }
  });

  Deno.test(`every Flux reference in ${cluster} names an object of the same cluster`, async () => {
    const objects = await clusterObjects(cluster);
    const ids = new Set(objects.map(objectId));
    const refs: string[] = [];
    for (const object of objects) {
      const spec = object.spec as {
        sourceRef?: { kind: string; name: string; namespace?: string };
        imageRepositoryRef?: { name: string; namespace?: string };
      };
      const namespace = object.metadata.namespace;
      if (spec.sourceRef) {
        const { kind, name } = spec.sourceRef;
        refs.push(`${kind} ${spec.sourceRef.namespace ?? namespace}/${name}`);
      }
      if (spec.imageRepositoryRef) {
        const { name } = spec.imageRepositoryRef;
        refs.push(`ImageRepository ${spec.imageRepositoryRef.namespace ?? namespace}/${name}`);
      }
    }
    assert.ok(refs.length > 0);
    for (const ref of refs) assert.ok(ids.has(ref), `${cluster}: ${ref} does not exist`);
  });

  if (!AUTOMATED.includes(cluster)) continue;
  Deno.test(`the image automation of ${cluster} writes to markers of its own policies`, async () => {
    const objects = await clusterObjects(cluster);
    const automation = findObject(objects, "ImageUpdateAutomation", "outpost");
    const update = (automation.spec as { update: { path: string; strategy: string } }).update;
    assert.equal(update.strategy, "Setters");
    assert.equal(repoDir(update.path), `k8s/overlays/${cluster}`);
    const text = await Deno.readTextFile(
      `${REPO_ROOT}${repoDir(update.path)}/apps/kustomization.yaml`,
    );
    const markers = [...text.matchAll(/\{"\$imagepolicy": "([^"]+)"\}/g)].map((match) => match[1]);
    const policies = objects.filter((object) => object.kind === "ImagePolicy")
      .map((policy) => `${policy.metadata.namespace}:${policy.metadata.name}:tag`);
    assert.deepEqual(markers.sort(), policies.sort());
    // Each policy watches the repository of the image its marker sits on.
    for (const name of ["outpost-agent", "outpost-cloud"]) {
      const repository = findObject(objects, "ImageRepository", name);
      const image = (repository.spec as { image: string }).image;
      assert.match(
        text,
        new RegExp(
          `- name: ${image}\\n\\s+newTag: \\S+ # \\{"\\$imagepolicy": "flux-system:${name}:tag"\\}`,
        ),
      );
    }
  });
}

function semverRanges(objects: KubeObject[]): string[] {
  return objects.filter((object) => object.kind === "ImagePolicy").map((policy) =>
    (policy.spec as { policy: { semver: { range: string } } }).policy.semver.range
  );
}

Deno.test("staging picks release candidates itself; production has no image automation", async () => {
  const ranges = semverRanges(await clusterObjects("edge-staging"));
  assert.equal(ranges.length, 2);
  for (const range of ranges) {
    assert.match(range, /-0\b/, `staging range ${range} admits pre-releases`);
  }
  // Production runs what a promotion commit copied from staging (tests/delivery/promote.ts),
  // never a tag a version range of its own would pick.
  const production = await clusterObjects("edge-production");
  assert.deepEqual(semverRanges(production), []);
  const overlay = await Deno.readTextFile(
    `${REPO_ROOT}k8s/overlays/edge-production/apps/kustomization.yaml`,
  );
  assert.doesNotMatch(overlay, /\$imagepolicy/, "no setter marker in production");
});

Deno.test("the Git source keeps only the deployment tree in its artifact", async () => {
  for (const cluster of OVERLAYS) {
    const source = findObject(await clusterObjects(cluster), "GitRepository", "outpost");
    const ignore = (source.spec as { ignore: string }).ignore;
    assert.match(ignore, /^!\/k8s\/$/m);
    assert.match(ignore, /^!\/clusters\/$/m);
  }
});

interface AlertSpec {
  providerRef: { name: string };
  eventSeverity?: string;
  eventMetadata?: Record<string, string>;
  eventSources: { kind: string; name: string; namespace?: string }[];
  inclusionList?: string[];
  exclusionList?: string[];
}

/** A Go regular expression as JavaScript runs it (only the leading `(?i)` flag is used here). */
function goRegExp(pattern: string): RegExp {
  return pattern.startsWith("(?i)") ? new RegExp(pattern.slice(4), "i") : new RegExp(pattern);
}

/**
 * Whether the notification-controller would send an event through this Alert: the involved
 * object matches an event source (same namespace unless given, name or "*"), the severity passes,
 * the message matches the inclusion list (when there is one) and none of the exclusion list.
 */
function delivers(
  alert: KubeObject,
  event: { kind: string; name: string; severity: "info" | "error"; message: string },
): boolean {
  const spec = alert.spec as AlertSpec;
  const source = spec.eventSources.some((candidate) =>
    candidate.kind === event.kind && (candidate.name === "*" || candidate.name === event.name) &&
    (candidate.namespace ?? alert.metadata.namespace) === "flux-system"
  );
  if (!source) return false;
  if (spec.eventSeverity === "error" && event.severity !== "error") return false;
  const included = !spec.inclusionList?.length ||
    spec.inclusionList.some((pattern) => goRegExp(pattern).test(event.message));
  const excluded = (spec.exclusionList ?? []).some((pattern) =>
    goRegExp(pattern).test(event.message)
  );
  return included && !excluded;
}

for (const cluster of OVERLAYS) {
  Deno.test(`${cluster} sends failed reconciliations and stalled rollouts to its provider, once each`, async () => {
    const objects = await clusterObjects(cluster);
    const providers = objects.filter((object) => object.kind === "Provider");
    const alerts = objects.filter((object) => object.kind === "Alert");
    assert.ok(alerts.length >= 2, `${cluster}: alerts`);
    const docs = await Deno.readTextFile(`${REPO_ROOT}docs/DEPLOYMENT.md`);
    for (const provider of providers) {
      const secret = (provider.spec as { secretRef?: { name: string } }).secretRef?.name;
      assert.ok(secret && docs.includes(secret), `${cluster}: Secret ${secret} is not documented`);
    }
    for (const alert of alerts) {
      const spec = alert.spec as AlertSpec;
      assert.ok(
        providers.some((provider) => provider.metadata.name === spec.providerRef.name),
        `${cluster}: Alert ${alert.metadata.name} names a Provider that does not exist`,
      );
      assert.equal(spec.eventSeverity, "error");
      assert.equal(spec.eventMetadata?.environment, cluster);
    }
    const sentBy = (event: Parameters<typeof delivers>[1]) =>
      alerts.filter((alert) => delivers(alert, event)).map((alert) => alert.metadata.name);
    // The Kustomization that waits for the rollouts (wait: true, with a timeout).
    const apps = kustomizations(objects).find(({ spec }) =>
      repoDir(spec.path ?? "") === `k8s/overlays/${cluster}/apps`
    );
    assert.ok(apps?.spec.wait && apps.spec.timeout, `${cluster}: apps waits, with a timeout`);
    // What kustomize-controller reports when the wait times out (checkHealth in
    // internal/controller/kustomization_controller.go: "health check failed after <d>: <err>").
    const stalled = "health check failed after 30m0.012s: timeout waiting for: " +
      "[DaemonSet/outpost-edge/outpost-agent-trucks status: 'InProgress']";
    assert.deepEqual(
      sentBy({
        kind: "Kustomization",
        name: apps.metadata.name,
        severity: "error",
        message: stalled,
      }),
      ["outpost-stalled-rollouts"],
    );
    const failures = [
      { kind: "Kustomization", name: apps.metadata.name, message: "kustomize build failed: x" },
      { kind: "Kustomization", name: "infrastructure", message: "dry-run failed: x" },
      { kind: "GitRepository", name: "outpost", message: "failed to checkout: x" },
      ...(AUTOMATED.includes(cluster)
        ? IMAGE_AUTOMATION_KINDS.map((kind) => ({ kind, name: "outpost", message: "x failed" }))
        : []),
    ];
    for (const failure of failures) {
      assert.deepEqual(
        sentBy({ ...failure, severity: "error" }),
        ["outpost-reconciliation-failures"],
        `${cluster}: ${failure.kind} ${failure.name}`,
      );
      assert.deepEqual(sentBy({ ...failure, severity: "info" }), [], "info events stay quiet");
    }
    // Every Flux object of the cluster is a source of some alert.
    for (const object of objects) {
      if (!["GitRepository", "Kustomization", ...IMAGE_AUTOMATION_KINDS].includes(object.kind)) {
        continue;
      }
      const event = { kind: object.kind, name: object.metadata.name, severity: "error" as const };
      assert.ok(
        sentBy({ ...event, message: "failed" }).length === 1,
        `${cluster}: ${objectId(object)} failing alerts nobody`,
      );
    }
  });
}
