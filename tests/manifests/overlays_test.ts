import assert from "node:assert/strict";
import {
  brokerOf,
  type Container,
  findObject,
  type KubeObject,
  kustomize,
  objectId,
  overlayLayers,
  OVERLAYS,
  parseImageReference,
  type PodSpec,
  podSpec,
  REPO_ROOT,
  schemaProblems,
  unpinnedImage,
  workloads,
} from "./kube.ts";
import { type HttpProbe, PROBE_KINDS, probePort } from "./pod.ts";

const LAYERS = ["infrastructure", "apps"] as const;

/**
 * Every directory that must build: the base, its layers, the NATS broker, and each overlay with
 * its layers.
 */
const BUILDABLE = [
  "k8s/base",
  ...LAYERS.map((layer) => `k8s/base/${layer}`),
  "k8s/base/nats",
  ...OVERLAYS.flatMap((overlay) => [
    `k8s/overlays/${overlay}`,
    ...overlayLayers(overlay).map((layer) => `k8s/overlays/${overlay}/${layer}`),
  ]),
];

/** Components every overlay includes, whose objects add to the base's. */
const SHARED_COMPONENTS = ["k8s/components/cert-manager", "k8s/components/monitoring"];

/** Kustomize's configMapGenerator suffix: a dash and ten characters of its hash alphabet. */
const HASH_SUFFIX = /-[bcdfghkmt2-9]{10}$/;

/** An id that ignores the generator hash, to compare a base with its overlays. */
function stableId(object: KubeObject): string {
  return objectId(object).replace(HASH_SUFFIX, "-<hash>");
}

function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

function configMapData(objects: KubeObject[], prefix: string): Record<string, string> {
  const found = objects.filter((object) =>
    object.kind === "ConfigMap" && object.metadata.name.startsWith(`${prefix}-`)
  );
  assert.equal(found.length, 1, `expected one ConfigMap ${prefix}-<hash>`);
  return found[0].data as Record<string, string>;
}

/** The sites of an overlay: its directories k8s/overlays/<overlay>/apps/sites/<site>/. */
async function siteNames(overlay: string): Promise<string[]> {
  const sites: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${REPO_ROOT}k8s/overlays/${overlay}/apps/sites`)) {
      if (entry.isDirectory) sites.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return sites;
}

async function overlayObjects(overlay: string): Promise<KubeObject[]> {
  return await kustomize(`k8s/overlays/${overlay}`);
}

function secretRefs(objects: KubeObject[]): Set<string> {
  const names = new Set<string>();
  for (const workload of workloads(objects)) {
    const spec = podSpec(workload);
    for (const volume of spec.volumes ?? []) {
      if (volume.secret) names.add(volume.secret.secretName);
    }
    for (const container of allContainers(spec)) {
      for (const env of container.env ?? []) {
        if (env.valueFrom?.secretKeyRef) names.add(env.valueFrom.secretKeyRef.name);
      }
      for (const from of container.envFrom ?? []) {
        if (from.secretRef) names.add(from.secretRef.name);
      }
    }
  }
  return names;
}

for (const dir of BUILDABLE) {
  Deno.test(`${dir} builds with kubectl kustomize`, async () => {
    const objects = await kustomize(dir);
    assert.ok(objects.length > 0, `${dir} rendered no objects`);
  });
}

for (const overlay of OVERLAYS) {
  Deno.test(`the ${overlay} overlay is the sum of its layers (${overlayLayers(overlay).join(", ")})`, async () => {
    const whole = (await overlayObjects(overlay)).map(objectId).sort();
    const layers = [];
    for (const layer of overlayLayers(overlay)) {
      layers.push(...(await kustomize(`k8s/overlays/${overlay}/${layer}`)).map(objectId));
    }
    assert.deepEqual(layers.sort(), whole);
  });

  Deno.test(
    `the ${overlay} overlay only patches the base and adds the shared components, plus one agent DaemonSet per site${
      brokerOf(overlay) === "nats" ? ", with the NATS cluster in place of Mosquitto" : ""
    }`,
    async () => {
      let expected = [];
      for (const dir of ["k8s/base", ...SHARED_COMPONENTS]) {
        expected.push(...(await kustomize(dir)).map(stableId));
      }
      if (brokerOf(overlay) === "nats") {
        // k8s/components/nats: Mosquitto and its certificate out, the NATS servers and theirs in.
        const mosquitto = new Set([
          ...(await kustomize("k8s/base/mosquitto")).map(stableId),
          "Certificate outpost-cloud/outpost-mosquitto-tls",
        ]);
        const before = expected.length;
        expected = expected.filter((id) => !mosquitto.has(id));
        assert.equal(before - expected.length, mosquitto.size, "every Mosquitto object was there");
        expected.push(...(await kustomize("k8s/base/nats")).map(stableId));
        expected.push("Certificate outpost-cloud/outpost-nats-tls");
      }
      // A copy of the base's agent DaemonSet per site (rollout_test.ts checks them).
      for (const site of await siteNames(overlay)) {
        expected.push(`DaemonSet outpost-edge/outpost-agent-${site}`);
      }
      const rendered = (await overlayObjects(overlay)).map(stableId).sort();
      assert.deepEqual(rendered, expected.sort());
    },
  );
}

Deno.test("every object of the base and every overlay passes its schema with no unknown field", async () => {
  const problems: string[] = [];
  for (const dir of BUILDABLE) {
    for (const object of await kustomize(dir)) {
      problems.push(...schemaProblems(object).map((problem) => `${dir}: ${problem}`));
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("every container runs as non-root on a read-only root filesystem with no capabilities", async () => {
  const problems: string[] = [];
  for (const overlay of OVERLAYS) {
    for (const workload of workloads(await overlayObjects(overlay))) {
      const spec = podSpec(workload);
      const where = `${overlay}: ${objectId(workload)}`;
      if (spec.securityContext?.seccompProfile?.type !== "RuntimeDefault") {
        problems.push(`${where}: pod seccompProfile is not RuntimeDefault`);
      }
      for (const container of allContainers(spec)) {
        const at = `${where} container ${container.name}`;
        const context = container.securityContext ?? {};
        const nonRoot = context.runAsNonRoot ?? spec.securityContext?.runAsNonRoot;
        const uid = context.runAsUser ?? spec.securityContext?.runAsUser;
        if (nonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
        if (uid === 0) problems.push(`${at}: runs as uid 0`);
        if (context.readOnlyRootFilesystem !== true) {
          problems.push(`${at}: readOnlyRootFilesystem is not true`);
        }
        if (context.allowPrivilegeEscalation !== false) {
          problems.push(`${at}: allowPrivilegeEscalation is not false`);
        }
        if (context.privileged) problems.push(`${at}: is privileged`);
        if (!context.capabilities?.drop?.includes("ALL")) {
          problems.push(`${at}: capabilities do not drop ALL`);
        }
        if (context.capabilities?.add?.length) problems.push(`${at}: adds capabilities`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("an image reference is split into repository, tag and digest", () => {
  assert.deepEqual(parseImageReference("eclipse-mosquitto:2.0.21"), {
    repository: "eclipse-mosquitto",
    tag: "2.0.21",
    digest: undefined,
  });
  assert.deepEqual(parseImageReference("registry.local:5000/team/app"), {
    repository: "registry.local:5000/team/app",
    digest: undefined,
  });
  const digest = `sha256:${"a".repeat(64)}`;
  assert.deepEqual(parseImageReference(`ghcr.io/o/app:1.0@${digest}`), {
    repository: "ghcr.io/o/app",
    tag: "1.0",
    digest,
  });
  assert.equal(unpinnedImage("nginx"), "no tag (means latest)");
  assert.equal(unpinnedImage("registry.local:5000/app"), "no tag (means latest)");
  assert.equal(unpinnedImage("nginx:latest"), "the latest tag");
  assert.equal(unpinnedImage("nginx:Latest"), "the latest tag");
  assert.equal(unpinnedImage("nginx:1.28-alpine"), undefined);
  assert.equal(unpinnedImage(`nginx@${digest}`), undefined);
  assert.equal(unpinnedImage("nginx@sha256:abc"), "malformed digest 'sha256:abc'");
});

Deno.test("no container image of the base or any overlay is untagged or latest", async () => {
  const problems: string[] = [];
  for (const dir of BUILDABLE) {
    const containers = workloads(await kustomize(dir)).flatMap((workload) =>
      allContainers(podSpec(workload))
    );
    const overlay = OVERLAYS.find((name) => dir === `k8s/overlays/${name}`);
    if (overlay) {
      // agent + sidecar (in each agent DaemonSet), cloud, cloud nginx, and the broker:
      // Mosquitto + its dynsec-init, or NATS + its exporter
      const sites = (await siteNames(overlay)).length;
      assert.equal(containers.length, 6 + 2 * sites, `${dir}: every container is checked`);
    }
    for (const workload of workloads(await kustomize(dir))) {
      for (const container of allContainers(podSpec(workload))) {
        const problem = unpinnedImage(container.image ?? "");
        if (problem) {
          problems.push(
            `${dir}: ${objectId(workload)} ${container.name}: ${container.image} (${problem})`,
          );
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("every probe's port is one the kubelet can resolve in the probed container", async () => {
  const problems: string[] = [];
  for (const dir of BUILDABLE) {
    for (const workload of workloads(await kustomize(dir))) {
      for (const container of podSpec(workload).containers) {
        for (const kind of PROBE_KINDS) {
          const probe = container[kind] as HttpProbe | undefined;
          const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
          if (port === undefined) continue;
          try {
            // A named port is looked up in this container only, not in the pod.
            probePort(port, container);
          } catch (error) {
            problems.push(`${dir}: ${objectId(workload)} ${kind}: ${(error as Error).message}`);
          }
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("every container sets cpu and memory requests and a memory limit", async () => {
  const problems: string[] = [];
  for (const overlay of OVERLAYS) {
    for (const workload of workloads(await overlayObjects(overlay))) {
      for (const container of allContainers(podSpec(workload))) {
        const { requests = {}, limits = {} } = container.resources ?? {};
        const at = `${overlay}: ${objectId(workload)} container ${container.name}`;
        if (!requests.cpu || !requests.memory) problems.push(`${at}: no cpu/memory requests`);
        if (!limits.memory) problems.push(`${at}: no memory limit`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("the agent, cloud, nginx and broker containers have liveness and readiness probes", async () => {
  const problems: string[] = [];
  for (const overlay of OVERLAYS) {
    for (const workload of workloads(await overlayObjects(overlay))) {
      for (const container of podSpec(workload).containers) {
        const at = `${overlay}: ${objectId(workload)} container ${container.name}`;
        if (!container.livenessProbe) problems.push(`${at}: no livenessProbe`);
        if (!container.readinessProbe) problems.push(`${at}: no readinessProbe`);
        const app = container.name === "agent" || container.name === "cloud";
        if (app && !container.startupProbe) problems.push(`${at}: no startupProbe`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("the agent and cloud probe /healthz for liveness and /readyz for readiness", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const pairs: [string, string][] = [["DaemonSet", "outpost-agent"], [
      "Deployment",
      "outpost-cloud",
    ]];
    for (const [kind, name] of pairs) {
      const app = podSpec(findObject(objects, kind, name)).containers[0];
      const path = (probe: unknown) => (probe as { httpGet?: { path?: string } }).httpGet?.path;
      assert.equal(path(app.livenessProbe), "/healthz", `${overlay} ${name} liveness`);
      assert.equal(path(app.readinessProbe), "/readyz", `${overlay} ${name} readiness`);
    }
  }
});

Deno.test("the agent DaemonSet exposes only the nginx sidecar port", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const spec = podSpec(findObject(objects, "DaemonSet", "outpost-agent"));
    const exposed = spec.containers.flatMap((container) =>
      (container.ports ?? []).map((port) => `${container.name}:${port.containerPort}`)
    );
    assert.deepEqual(exposed, ["nginx:8080"], overlay);
    // The agent itself binds loopback only, behind the sidecar.
    assert.equal(configMapData(objects, "outpost-agent-env").OUTPOST_HOST, "127.0.0.1");
    const service = findObject(objects, "Service", "outpost-agent");
    const ports = (service.spec as { ports: { targetPort: unknown }[] }).ports;
    assert.deepEqual(ports.map((port) => port.targetPort), ["http"]);
  }
});

Deno.test("the agent takes its device id from the node name and its tokens from a Secret", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const agent = podSpec(findObject(objects, "DaemonSet", "outpost-agent")).containers
      .find((container) => container.name === "agent");
    assert.ok(agent, `${overlay}: no agent container`);
    const env = new Map((agent.env ?? []).map((entry) => [entry.name, entry]));
    assert.equal(env.get("OUTPOST_DEVICE_ID")?.valueFrom?.fieldRef?.fieldPath, "spec.nodeName");
    assert.equal(env.get("OUTPOST_ENROLL_TOKEN")?.valueFrom?.secretKeyRef?.name, "outpost-agent");
    assert.equal(env.get("OUTPOST_API_TOKEN")?.valueFrom?.secretKeyRef?.name, "outpost-agent");
    const data = configMapData(objects, "outpost-agent-env");
    assert.equal(data.OUTPOST_DATA_DIR, "/var/lib/outpost");
    assert.equal(data.OUTPOST_RETENTION_DAYS, "30");
    assert.ok(
      agent.volumeMounts?.some((mount) => mount.mountPath === "/tmp"),
      "writable /tmp",
    );
  }
});

Deno.test("the edge overlays require the agent's Secret; only dev may run without it", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const agent = podSpec(findObject(objects, "DaemonSet", "outpost-agent")).containers
      .find((container) => container.name === "agent");
    const refs = (agent?.env ?? []).filter((entry) =>
      entry.valueFrom?.secretKeyRef?.name === "outpost-agent"
    );
    assert.deepEqual(refs.map((entry) => entry.name).sort(), [
      "OUTPOST_API_TOKEN",
      "OUTPOST_ENROLL_TOKEN",
    ]);
    // Required: a missing Secret or key stops the pod (CreateContainerConfigError), hence the
    // rollout after its first batch, instead of leaving the fleet silently unenrolled.
    const optional = refs.map((entry) => entry.valueFrom?.secretKeyRef?.optional === true);
    assert.deepEqual(optional, refs.map(() => overlay === "dev"), overlay);
  }
});

Deno.test("the edge overlays keep the agent database in the node's /var/lib/outpost", async () => {
  for (const overlay of ["edge-staging", "edge-production"]) {
    const spec = podSpec(findObject(await overlayObjects(overlay), "DaemonSet", "outpost-agent"));
    const data = spec.volumes?.find((volume) => volume.name === "data");
    assert.deepEqual(data?.hostPath, { path: "/var/lib/outpost", type: "Directory" }, overlay);
  }
});

Deno.test("the agent rolls out without surge, has a PriorityClass and tolerates edge taints", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const daemonSet = findObject(objects, "DaemonSet", "outpost-agent");
    const strategy = (daemonSet.spec as {
      updateStrategy: {
        type: string;
        rollingUpdate: { maxSurge: unknown; maxUnavailable: unknown };
      };
    }).updateStrategy;
    assert.equal(strategy.type, "RollingUpdate");
    assert.equal(strategy.rollingUpdate.maxSurge, 0, `${overlay}: two agents would share a DB`);
    assert.ok(strategy.rollingUpdate.maxUnavailable, `${overlay}: maxUnavailable is set`);
    const spec = podSpec(daemonSet);
    findObject(objects, "PriorityClass", spec.priorityClassName ?? "<none>");
    assert.ok(
      spec.tolerations?.some((toleration) => toleration.key === "node-role.kubernetes.io/edge"),
      `${overlay}: no toleration for node-role.kubernetes.io/edge`,
    );
  }
});

Deno.test("production rolls the fleet more slowly than staging", async () => {
  const strategy = async (overlay: string) => {
    const daemonSet = findObject(await overlayObjects(overlay), "DaemonSet", "outpost-agent");
    const spec = daemonSet.spec as {
      minReadySeconds: number;
      updateStrategy: { rollingUpdate: { maxUnavailable: string } };
    };
    return {
      share: parseInt(spec.updateStrategy.rollingUpdate.maxUnavailable),
      minReady: spec.minReadySeconds,
    };
  };
  const staging = await strategy("edge-staging");
  const production = await strategy("edge-production");
  assert.ok(production.share < staging.share, "production replaces a smaller share at a time");
  assert.ok(production.minReady >= staging.minReady);
});

Deno.test("the cloud runs two replicas (three with NATS) with a PodDisruptionBudget behind its nginx", async () => {
  for (const overlay of ["edge-staging", "edge-production"]) {
    const objects = await overlayObjects(overlay);
    for (const name of ["outpost-cloud", "outpost-cloud-nginx"]) {
      const deployment = findObject(objects, "Deployment", name);
      // With NATS the replicas are competing consumers of one JetStream work queue.
      const replicas = name === "outpost-cloud" && brokerOf(overlay) === "nats" ? 3 : 2;
      assert.equal(
        (deployment.spec as { replicas: number }).replicas,
        replicas,
        `${overlay} ${name}`,
      );
      const budget = findObject(objects, "PodDisruptionBudget", name);
      assert.equal((budget.spec as { minAvailable: number }).minAvailable, 1);
    }
  }
});

Deno.test("every ConfigMap is generated with a content hash and referenced by its hashed name", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const configMaps = objects.filter((object) => object.kind === "ConfigMap");
    assert.ok(configMaps.length >= 5, `${overlay}: the generated ConfigMaps are rendered`);
    const rendered = new Set(configMaps.map((object) => objectId(object)));
    for (const object of configMaps) {
      assert.match(object.metadata.name, HASH_SUFFIX, `${overlay}: ${objectId(object)}`);
    }
    for (const workload of workloads(objects)) {
      const spec = podSpec(workload);
      const namespace = workload.metadata.namespace;
      const refs: { name: string; optional?: boolean }[] = [];
      for (const volume of spec.volumes ?? []) if (volume.configMap) refs.push(volume.configMap);
      for (const container of allContainers(spec)) {
        for (const from of container.envFrom ?? []) {
          if (from.configMapRef) refs.push(from.configMapRef);
        }
        for (const env of container.env ?? []) {
          if (env.valueFrom?.configMapKeyRef) refs.push(env.valueFrom.configMapKeyRef);
        }
      }
      for (const ref of refs) {
        // An optional reference may name a ConfigMap created outside Git (the MQTT CA).
        if (ref.optional) continue;
        assert.ok(
          rendered.has(`ConfigMap ${namespace}/${ref.name}`),
          `${overlay}: ${
            objectId(workload)
          } references ConfigMap ${ref.name}, which is not rendered`,
        );
      }
    }
  }
});

Deno.test("an overlay's configMapGenerator merge changes the hash, so the pods roll", async () => {
  const name = async (dir: string) =>
    (await kustomize(dir)).find((object) =>
      object.kind === "ConfigMap" && object.metadata.name.startsWith("outpost-agent-env-")
    )?.metadata.name;
  const base = await name("k8s/base");
  const dev = await name("k8s/overlays/dev");
  assert.ok(base && dev);
  assert.notEqual(dev, base);
  const data = configMapData(await overlayObjects("dev"), "outpost-agent-env");
  assert.equal(data.OUTPOST_LOG_LEVEL, "debug");
});

Deno.test("no Secret is committed and every referenced Secret is documented in DEPLOYMENT.md", async () => {
  const docs = await Deno.readTextFile(`${REPO_ROOT}docs/DEPLOYMENT.md`);
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    assert.deepEqual(objects.filter((object) => object.kind === "Secret").map(objectId), []);
    for (const name of secretRefs(objects)) {
      assert.ok(docs.includes(name), `Secret ${name} is not explained in docs/DEPLOYMENT.md`);
    }
  }
});

Deno.test("the kubeedge overlays put the agent on edge nodes with the host network", async () => {
  for (const overlay of ["edge-staging", "edge-production"]) {
    const objects = await overlayObjects(overlay);
    const spec = podSpec(findObject(objects, "DaemonSet", "outpost-agent"));
    const expressions = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms.flatMap((term) => term.matchExpressions ?? []) ?? [];
    assert.ok(
      expressions.some((e) => e.key === "node-role.kubernetes.io/edge" && e.operator === "Exists"),
      `${overlay}: agent is not pinned to node-role.kubernetes.io/edge`,
    );
    assert.equal(spec.hostNetwork, true, overlay);
    assert.equal(spec.dnsPolicy, "ClusterFirstWithHostNet", overlay);
    // Without in-cluster DNS on edge nodes the agent uses the public endpoints.
    assert.match(configMapData(objects, "outpost-agent-env").OUTPOST_CLOUD_URL, /^https:\/\//);
    assert.match(configMapData(objects, "outpost-cloud-env").OUTPOST_MQTT_PUBLIC_URL, /^mqtts:/);
  }
});

Deno.test("the kubeedge overlays keep the cloud side off edge nodes", async () => {
  for (const overlay of ["edge-staging", "edge-production"]) {
    for (const workload of workloads(await overlayObjects(overlay))) {
      if (workload.kind === "DaemonSet") continue;
      const terms = podSpec(workload).affinity?.nodeAffinity
        ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
      assert.ok(
        terms.length > 0 &&
          terms.every((term) =>
            term.matchExpressions?.some((e) =>
              e.key === "node-role.kubernetes.io/edge" && e.operator === "DoesNotExist"
            )
          ),
        `${overlay}: ${objectId(workload)} may be scheduled on an edge node`,
      );
    }
  }
});

Deno.test("the k3s dev overlay selects K3s nodes and K3s local-path storage", async () => {
  const objects = await overlayObjects("dev");
  const spec = podSpec(findObject(objects, "DaemonSet", "outpost-agent"));
  assert.equal(spec.nodeSelector?.["node.kubernetes.io/instance-type"], "k3s");
  assert.notEqual(spec.hostNetwork, true);
  const broker = findObject(objects, "StatefulSet", "outpost-mosquitto");
  const claims = (broker.spec as { volumeClaimTemplates: { spec: { storageClassName: string } }[] })
    .volumeClaimTemplates;
  assert.equal(claims[0].spec.storageClassName, "local-path");
});

interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string };
}

interface PolicyRule {
  to?: PolicyPeer[];
  ports?: { port: number }[];
}

function egressTargets(policy: KubeObject): string[] {
  const rules = (policy.spec as { egress?: PolicyRule[] }).egress ?? [];
  return rules.flatMap((rule) =>
    (rule.to ?? [{ ipBlock: { cidr: "<any>" } }]).flatMap((peer) => {
      const app = peer.podSelector?.matchLabels?.["app.kubernetes.io/name"] ??
        peer.podSelector?.matchLabels?.["k8s-app"] ?? peer.ipBlock?.cidr ?? "<any>";
      return (rule.ports ?? [{ port: 0 }]).map((port) => `${app}:${port.port}`);
    })
  );
}

Deno.test("the agent may reach only DNS, the broker and the cloud", async () => {
  const objects = await overlayObjects("dev");
  const targets = egressTargets(findObject(objects, "NetworkPolicy", "outpost-agent"));
  assert.deepEqual([...new Set(targets)].sort(), [
    "kube-dns:53",
    "outpost-cloud-nginx:8080",
    "outpost-cloud-nginx:8443",
    "outpost-cloud:8080",
    "outpost-mosquitto:1883",
    "outpost-mosquitto:8883",
  ]);
});

Deno.test("the cloud may reach only DNS, the broker and its PostgreSQL database", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const targets = egressTargets(findObject(objects, "NetworkPolicy", "outpost-cloud"));
    // On NATS the cloud speaks NATS only (downlink as plain NATS messages), never MQTT.
    const broker = brokerOf(overlay) === "nats"
      ? ["outpost-nats:4222"]
      : ["outpost-mosquitto:1883"];
    assert.deepEqual([...new Set(targets)].sort(), ["0.0.0.0/0:5432", "kube-dns:53", ...broker]);
  }
});

Deno.test("every workload is covered by a NetworkPolicy for both ingress and egress", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await overlayObjects(overlay);
    const policies = objects.filter((object) => object.kind === "NetworkPolicy");
    for (const workload of workloads(objects)) {
      const labels =
        (workload.spec as { template: { metadata: { labels: Record<string, string> } } })
          .template.metadata.labels;
      const covering = policies.filter((policy) => {
        const spec = policy.spec as {
          podSelector: { matchLabels?: Record<string, string> };
          policyTypes?: string[];
        };
        return policy.metadata.namespace === workload.metadata.namespace &&
          Object.entries(spec.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
          ["Ingress", "Egress"].every((type) => spec.policyTypes?.includes(type));
      });
      assert.ok(covering.length > 0, `${overlay}: ${objectId(workload)} has no NetworkPolicy`);
    }
  }
});

Deno.test("dev and staging pin both images with a Flux setter marker; production with a plain promoted tag", async () => {
  for (const overlay of OVERLAYS) {
    const text = await Deno.readTextFile(
      `${REPO_ROOT}k8s/overlays/${overlay}/apps/kustomization.yaml`,
    );
    for (const image of ["outpost-agent", "outpost-cloud"]) {
      const marker = new RegExp(
        `newTag: \\S+ # \\{"\\$imagepolicy": "flux-system:${image}:tag"\\}`,
      );
      if (overlay === "edge-production") {
        // Set by a promotion commit only (tests/delivery/promote.ts): an exact version.
        assert.match(
          text,
          new RegExp(
            `- name: ghcr\\.io/example-org/${image}\\n\\s+newTag: \\d+\\.\\d+\\.\\d+\\S*( # promoted from [^\\n]*)?\\n`,
          ),
        );
        assert.doesNotMatch(text, marker);
      } else assert.match(text, marker, `${overlay}: no setter marker for ${image}`);
    }
    const images = workloads(await overlayObjects(overlay)).flatMap((workload) =>
      podSpec(workload).containers.map((container) => container.image ?? "")
    );
    assert.ok(images.some((image) => image.startsWith("ghcr.io/example-org/outpost-agent:")));
    assert.ok(images.some((image) => image.startsWith("ghcr.io/example-org/outpost-cloud:")));
  }
});
