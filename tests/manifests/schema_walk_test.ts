import assert from "node:assert/strict";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { ConfigMap } from "kubernetes-models/v1";
import { PriorityClass } from "kubernetes-models/scheduling.k8s.io/v1";
import { Kustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1";
import { findUnknownFields } from "./schema_walk.ts";

type Json = Record<string, unknown>;

/** The object at `path` below `root` (test data only: the path is known to exist). */
function at(root: Json, ...path: (string | number)[]): Json {
  let current: unknown = root;
  for (const key of path) current = (current as Record<string | number, unknown>)[key];
  return current as Json;
}

function daemonSet(): Json {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: {
      name: "outpost-agent",
      labels: { "app.kubernetes.io/name": "outpost-agent", "any.example/label": "x" },
      annotations: { "free-form/annotation": "y" },
    },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": "outpost-agent" } },
      template: {
        metadata: { labels: { "app.kubernetes.io/name": "outpost-agent" } },
        spec: {
          containers: [{
            name: "agent",
            image: "ghcr.io/example-org/outpost-agent:0.1.0",
            imagePullPolicy: "IfNotPresent",
            resources: { requests: { cpu: "50m", memory: "64Mi" } },
            env: [{ name: "A", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
          }],
        },
      },
    },
  };
}

Deno.test("a valid DaemonSet has no unknown fields, including free-form labels and quantities", () => {
  const object = daemonSet();
  new DaemonSet(object).validate();
  assert.deepEqual(findUnknownFields(DaemonSet, object), []);
});

Deno.test("a misspelled field that validate() accepts is reported with its path", () => {
  const object = daemonSet();
  const container = at(object, "spec", "template", "spec", "containers", 0);
  container.imagePullPolicyy = container.imagePullPolicy;
  delete container.imagePullPolicy;
  // The premise: the schema validator alone lets the typo through.
  new DaemonSet(object).validate();
  assert.deepEqual(findUnknownFields(DaemonSet, object), [
    "/spec/template/spec/containers/0/imagePullPolicyy",
  ]);
});

Deno.test("unknown fields are found at every depth and reported once, not below themselves", () => {
  const object = daemonSet();
  at(object, "spec").updateStrategy = { type: "RollingUpdate", rollingUpdat: { maxSurge: 0 } };
  at(object, "spec", "template", "spec").containres = [{ name: "typo", nested: { deep: true } }];
  at(object, "metadata").nmae = "typo";
  assert.deepEqual(findUnknownFields(DaemonSet, object).sort(), [
    "/metadata/nmae",
    "/spec/template/spec/containres",
    "/spec/updateStrategy/rollingUpdat",
  ]);
});

Deno.test("a misspelled field of a Flux Kustomization is reported", () => {
  const object: Json = {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name: "apps", namespace: "flux-system" },
    spec: {
      interval: "10m",
      path: "./k8s/overlays/dev/apps",
      prune: true,
      sourceRef: { kind: "GitRepository", name: "outpost" },
      dependOn: [{ name: "infrastructure" }],
    },
  };
  new Kustomization(object).validate();
  assert.deepEqual(findUnknownFields(Kustomization, object), ["/spec/dependOn"]);
});

Deno.test("keys of a map-typed field such as ConfigMap data are all accepted", () => {
  const object = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "x" },
    data: { "nginx.conf": "events {}", OUTPOST_PORT: "8000" },
  };
  assert.deepEqual(findUnknownFields(ConfigMap, object), []);
});

Deno.test("a declared field its validator never reads is accepted only when listed", () => {
  const object = {
    apiVersion: "scheduling.k8s.io/v1",
    kind: "PriorityClass",
    metadata: { name: "outpost-edge-critical" },
    value: 1000000,
    description: "the generator stripped this property from the schema",
    containers: [{ descriptoin: "typo" }],
  };
  assert.deepEqual(findUnknownFields(PriorityClass, object), ["/description", "/containers"]);
  assert.deepEqual(
    findUnknownFields(PriorityClass, object, { alsoDeclared: ["/description", "/other/*/x"] }),
    ["/containers"],
  );
});
