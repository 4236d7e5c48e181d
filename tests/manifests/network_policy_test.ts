// The rendered NetworkPolicies of every overlay, evaluated offline (network_policy.ts): default
// deny in each Outpost namespace, exactly the flows the system needs (with the overlay's broker:
// Mosquitto, or the NATS cluster with routes between its servers), Prometheus's scrapes
// allowed, and everything else denied.
import assert from "node:assert/strict";
import { brokerOf, type KubeObject, kustomize, OVERLAYS, podSpec, workloads } from "./kube.ts";
import { describeFlow, type Endpoint, type Flow, flowAllowed } from "./network_policy.ts";

type Port = { port: number; protocol: "TCP" | "UDP" };
const PORTS: Port[] = [
  { port: 53, protocol: "UDP" },
  { port: 53, protocol: "TCP" },
  ...[443, 1883, 4222, 5432, 6222, 7777, 8000, 8080, 8222, 8443, 8883, 9090].map((port) => ({
    port,
    protocol: "TCP" as const,
  })),
];

function pod(name: string, namespace: string, labels: Record<string, string>): Endpoint {
  return { kind: "pod", name, namespace, labels };
}

/** The pod of a rendered workload, as the policies see it (namespace and template labels). */
function workloadPod(objects: KubeObject[], name: string, alias: string): Endpoint {
  const workload = workloads(objects).find((candidate) => candidate.metadata.name === name);
  assert.ok(workload, `workload ${name}`);
  podSpec(workload); // it is a pod template
  const labels = (workload.spec as { template: { metadata: { labels: Record<string, string> } } })
    .template.metadata.labels;
  return pod(alias, workload.metadata.namespace!, labels);
}

/** Where the cloud and the agents find their broker. */
const BROKER_SOURCES = [
  "prometheus",
  "grafana",
  "other-pod",
  "kube-dns",
  "internet",
  "lan",
  "database",
];

/** What the system needs, and the deliberate public entry points; nothing else. */
function expectedFlows(broker: "nats" | "mosquitto"): string[] {
  const brokerFlows = broker === "mosquitto"
    ? [
      // The broker's TLS listener is public.
      ...BROKER_SOURCES.map((source) => `${source} -> mosquitto:8883/TCP`),
      // The cloud: the broker's in-cluster listener.
      "cloud -> mosquitto:1883/TCP",
      // Agents in the cluster: the broker, plain and TLS.
      "agent -> mosquitto:1883/TCP",
      "agent -> mosquitto:8883/TCP",
    ]
    : ["nats", "nats-peer"].flatMap((server) => [
      // Every server's MQTT TLS listener is public (devices outside the cluster).
      ...BROKER_SOURCES.map((source) => `${source} -> ${server}:8883/TCP`),
      // Prometheus scrapes the exporter sidecar; the monitoring port 8222 stays pod-local.
      `prometheus -> ${server}:7777/TCP`,
      // The cloud: NATS only (uplink through JetStream, downlink as plain NATS messages).
      `cloud -> ${server}:4222/TCP`,
      // In-cluster agents: MQTT over TLS.
      `agent -> ${server}:8883/TCP`,
      // The servers resolve the route names and connect to each other's route port.
      `${server} -> kube-dns:53/UDP`,
      `${server} -> kube-dns:53/TCP`,
      `${server} -> ${server === "nats" ? "nats-peer" : "nats"}:6222/TCP`,
    ]);
  return [
    ...new Set([
      // Prometheus scrapes the cloud replicas and, through their sidecar port, the agents.
      "prometheus -> cloud:8080/TCP",
      "prometheus -> agent:8080/TCP",
      // Public entry points, from anything whose own egress is open: the cloud nginx, the
      // agent's sidecar (LAN operators, hostPort), the broker's TLS listener (above).
      ...BROKER_SOURCES.flatMap((source) => [
        `${source} -> cloud-nginx:8080/TCP`,
        `${source} -> cloud-nginx:8443/TCP`,
        `${source} -> agent:8080/TCP`,
      ]),
      // The cloud: DNS, the broker, PostgreSQL (outside the cluster).
      "cloud -> kube-dns:53/UDP",
      "cloud -> kube-dns:53/TCP",
      // PostgreSQL lives outside the cluster: any address on 5432 (overlays may narrow the block).
      "cloud -> database:5432/TCP",
      "cloud -> internet:5432/TCP",
      "cloud -> lan:5432/TCP",
      // nginx forwards to the cloud only.
      "cloud-nginx -> kube-dns:53/UDP",
      "cloud-nginx -> kube-dns:53/TCP",
      "cloud-nginx -> cloud:8080/TCP",
      // Agents in the cluster: DNS, the broker, enrollment (direct or via nginx).
      "agent -> kube-dns:53/UDP",
      "agent -> kube-dns:53/TCP",
      "agent -> cloud:8080/TCP",
      "agent -> cloud-nginx:8080/TCP",
      "agent -> cloud-nginx:8443/TCP",
      ...brokerFlows,
    ]),
  ].sort();
}

for (const overlay of OVERLAYS) {
  Deno.test(`${overlay}: the NetworkPolicies allow exactly the needed flows and the scrape, and deny everything else`, async () => {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    const ours = [
      workloadPod(objects, "outpost-cloud", "cloud"),
      workloadPod(objects, "outpost-cloud-nginx", "cloud-nginx"),
      // The broker: Mosquitto, or two of the NATS servers (routes go between them).
      ...(brokerOf(overlay) === "mosquitto"
        ? [workloadPod(objects, "outpost-mosquitto", "mosquitto")]
        : [
          workloadPod(objects, "outpost-nats", "nats"),
          workloadPod(objects, "outpost-nats", "nats-peer"),
        ]),
      workloadPod(objects, "outpost-agent", "agent"),
      // Pods no workload policy selects: the namespaces' default deny covers them.
      pod("stray-cloud-pod", "outpost-cloud", { app: "debug" }),
      pod("stray-edge-pod", "outpost-edge", { app: "debug" }),
    ];
    const others: Endpoint[] = [
      pod("prometheus", "monitoring", { "app.kubernetes.io/name": "prometheus" }),
      pod("grafana", "monitoring", { "app.kubernetes.io/name": "grafana" }),
      pod("other-pod", "default", { app: "other" }),
      pod("kube-dns", "kube-system", { "k8s-app": "kube-dns" }),
      { kind: "external", name: "internet", ip: "203.0.113.5" },
      { kind: "external", name: "lan", ip: "192.0.2.10" },
      { kind: "external", name: "database", ip: "198.51.100.7" },
    ];
    // Every connection that starts or ends at one of our pods.
    const flows: Flow[] = [];
    for (const from of [...ours, ...others]) {
      for (const to of [...ours, ...others]) {
        if (!ours.includes(from) && !ours.includes(to)) continue;
        if (from === to) continue;
        for (const { port, protocol } of PORTS) flows.push({ from, to, port, protocol });
      }
    }
    const allowed = flows.filter((flow) => flowAllowed(objects, flow)).map(describeFlow).sort();
    assert.deepEqual(allowed, expectedFlows(brokerOf(overlay)));
    console.log(`${overlay}: ${flows.length} flows checked, ${allowed.length} allowed`);
  });
}

Deno.test("without the monitoring component's policy the cloud's scrape is denied (the default deny holds)", async () => {
  const objects = (await kustomize("k8s/overlays/dev")).filter((object) =>
    object.metadata.name !== "outpost-cloud-allow-scrape"
  );
  const prometheus = pod("prometheus", "monitoring", { "app.kubernetes.io/name": "prometheus" });
  const cloud = workloadPod(objects, "outpost-cloud", "cloud");
  assert.equal(flowAllowed(objects, { from: prometheus, to: cloud, port: 8080 }), false);
});

Deno.test("each Outpost namespace has a default-deny policy for both directions", async () => {
  for (const overlay of OVERLAYS) {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    for (const namespace of ["outpost-cloud", "outpost-edge"]) {
      const deny = objects.find((object) =>
        object.kind === "NetworkPolicy" && object.metadata.namespace === namespace &&
        object.metadata.name === "default-deny"
      );
      assert.ok(deny, `${overlay}: default-deny in ${namespace}`);
      assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    }
  }
});

Deno.test("without the monitoring component's NATS policy the exporter's scrape is denied, and the monitoring port 8222 never opens", async () => {
  const objects = await kustomize("k8s/overlays/edge-production");
  const prometheus = pod("prometheus", "monitoring", { "app.kubernetes.io/name": "prometheus" });
  const nats = workloadPod(objects, "outpost-nats", "nats");
  assert.equal(flowAllowed(objects, { from: prometheus, to: nats, port: 7777 }), true);
  assert.equal(flowAllowed(objects, { from: prometheus, to: nats, port: 8222 }), false);
  const without = objects.filter((object) => object.metadata.name !== "outpost-nats-allow-scrape");
  assert.equal(flowAllowed(without, { from: prometheus, to: nats, port: 7777 }), false);
});
