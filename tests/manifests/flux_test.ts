import assert from "node:assert/strict";
import {
  findObject,
  type KubeObject,
  kustomize,
  objectId,
  OVERLAYS,
  REPO_ROOT,
  schemaProblems,
} from "./kube.ts";

const FLUX_KINDS = [
  "GitRepository",
  "Kustomization",
  "ImageRepository",
  "ImagePolicy",
  "ImageUpdateAutomation",
];

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

  Deno.test(`in ${cluster} the apps Kustomization depends on the infrastructure one`, async () => {
    const all = kustomizations(await clusterObjects(cluster));
    const byPath = (suffix: string) => {
      const found = all.filter(({ spec }) => repoDir(spec.path ?? "").endsWith(suffix));
      assert.equal(found.length, 1, `${cluster}: one Kustomization with path ending ${suffix}`);
      return found[0];
    };
    const infrastructure = byPath(`k8s/overlays/${cluster}/infrastructure`);
    const apps = byPath(`k8s/overlays/${cluster}/apps`);
    // And on the Secrets decrypted from Git (secrets_test.ts).
    assert.deepEqual(
      apps.spec.dependsOn?.map((dependency) => dependency.name),
      [infrastructure.metadata.name, "secrets"],
    );
    // Every dependency exists, and following them never loops.
    const names = new Map(all.map((object) => [object.metadata.name, object]));
    for (const object of all) {
      const seen = new Set<string>();
      const visit = (name: string) => {
        assert.ok(names.has(name), `${cluster}: dependsOn names a missing Kustomization ${name}`);
        assert.ok(!seen.has(name), `${cluster}: dependsOn cycle through ${name}`);
        seen.add(name);
        for (const next of names.get(name)?.spec.dependsOn ?? []) visit(next.name);
      };
      visit(object.metadata.name);
    }
  });

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

Deno.test("staging takes pre-releases while production takes a pinned range of stable releases", async () => {
  for (const range of semverRanges(await clusterObjects("edge-staging"))) {
    assert.match(range, /-0\b/, `staging range ${range} admits pre-releases`);
  }
  for (const range of semverRanges(await clusterObjects("edge-production"))) {
    assert.doesNotMatch(range, /-/, `production range ${range} must exclude pre-releases`);
    assert.match(range, /^>=\d+\.\d+\.\d+ <\d+\.\d+\.\d+$/, `production range ${range} is bounded`);
  }
});

Deno.test("the Git source keeps only the deployment tree in its artifact", async () => {
  for (const cluster of OVERLAYS) {
    const source = findObject(await clusterObjects(cluster), "GitRepository", "outpost");
    const ignore = (source.spec as { ignore: string }).ignore;
    assert.match(ignore, /^!\/k8s\/$/m);
    assert.match(ignore, /^!\/clusters\/$/m);
  }
});
