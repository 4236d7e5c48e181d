// Every address inside the cluster that the rendered manifests hand to a program (URLs in the
// agent's and the cloud's environment, nginx upstreams) names a Service and port that exist,
// and every Service port leads to a port a program of the selected pod really listens on:
// OUTPOST_PORT on a non-loopback OUTPOST_HOST for the agent and the cloud, a `listen` of
// nginx, a `listener` of Mosquitto, a listener of NATS (read from the config file the
// container's command names, as rendered into its ConfigMap). A StatefulSet pod's own name
// (`<pod>.<headless service>.<namespace>.svc`) must be one of its ordinals.
import assert from "node:assert/strict";
import {
  type Container,
  type KubeObject,
  kustomize,
  objectId,
  OVERLAYS,
  podSpec,
  workloads,
} from "./kube.ts";
import { type ClusterFixture, PodSandbox } from "./pod.ts";
import { imageConfig, outpostProgram } from "./programs.ts";
import { natsListeners } from "./nats_config.ts";

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
}

interface ServiceSpec {
  selector?: Record<string, string>;
  ports: ServicePort[];
}

/** Every Secret key present: the wiring does not depend on secret values. */
const FIXTURE: ClusterFixture = {
  nodeName: "edge-node-1",
  secrets: {
    "outpost-cloud": {
      "admin-token": "a".repeat(32),
      "enroll-token": "e".repeat(32),
      "database-url": "/var/lib/outpost-cloud/test.db",
    },
    "outpost-agent": { "enroll-token": "e".repeat(32), "api-token": "t".repeat(32) },
    "outpost-mosquitto-admin": { username: "outpost-admin", password: "p".repeat(32) },
    "outpost-cloud-tls": { "tls.crt": "", "tls.key": "" },
    "outpost-mosquitto-tls": { "tls.crt": "", "tls.key": "" },
    "outpost-nats-tls": { "tls.crt": "", "tls.key": "", "ca.crt": "" },
    "outpost-nats-auth": { "auth.conf": "" },
    "outpost-nats-seeds": { "operator-seed": "", "account-seed": "", "system-account-seed": "" },
  },
};

/**
 * The Service an in-cluster host name refers to, from a pod in `namespace`, and the pod when it
 * names one (`<pod>.<service>.<namespace>.svc`, a StatefulSet pod under its headless Service);
 * else undefined.
 */
function serviceOf(
  host: string,
  namespace: string,
): { name: string; namespace: string; pod?: string } | undefined {
  if (!host.includes(".")) return { name: host, namespace };
  const match = host.match(
    /^(?:([a-z0-9-]+)\.)?([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?$/,
  );
  return match ? { pod: match[1], name: match[2], namespace: match[3] } : undefined;
}

/**
 * The label sets of a workload's pods: its template's labels, and for a StatefulSet the
 * controller's `statefulset.kubernetes.io/pod-name` of each ordinal (per-pod Services select it).
 */
function podLabels(workload: KubeObject): Record<string, string>[] {
  const spec = workload.spec as {
    replicas?: number;
    template: { metadata: { labels: Record<string, string> } };
  };
  const labels = spec.template.metadata.labels;
  if (workload.kind !== "StatefulSet") return [labels];
  return Array.from({ length: spec.replicas ?? 1 }, (_, ordinal) => ({
    ...labels,
    "statefulset.kubernetes.io/pod-name": `${workload.metadata.name}-${ordinal}`,
  }));
}

/** The ports a container listens on, with the address each binds. */
async function listeners(
  sandbox: PodSandbox,
  container: Container,
): Promise<{ port: number; host: string }[]> {
  const program = outpostProgram(container.image);
  if (program) {
    const { env } = sandbox.env(container, (await imageConfig(program)).env);
    return [{
      port: Number(env.OUTPOST_PORT ?? program.defaultPort),
      host: env.OUTPOST_HOST ?? program.defaultHost,
    }];
  }
  // nginx and Mosquitto: the config file named by `-c` in the command; NATS: `--config`.
  const command = [
    ...((container as { command?: string[] }).command ?? []),
    ...((container as { args?: string[] }).args ?? []),
  ];
  const nats = command[0] === "nats-server";
  const flag = command.findIndex((arg) => arg === (nats ? "--config" : "-c"));
  const config = flag < 0 ? undefined : command[flag + 1];
  const file = config ? sandbox.hostPath(container, config) : undefined;
  if (!file) return [];
  const text = await Deno.readTextFile(file);
  if (nats) return natsListeners(text).map(({ port, host }) => ({ port, host }));
  return [...text.matchAll(/^\s*(?:listen|listener)\s+(\d+)/gm)].map((match) => ({
    port: Number(match[1]),
    host: "0.0.0.0",
  }));
}

async function checkOverlay(overlay: string): Promise<{ problems: string[]; checked: string[] }> {
  const objects = await kustomize(`k8s/overlays/${overlay}`);
  const problems: string[] = [];
  const checked: string[] = [];
  const services = objects.filter((object) => object.kind === "Service");
  const findService = (name: string, namespace: string) =>
    services.find((service) =>
      service.metadata.name === name && service.metadata.namespace === namespace
    );

  // What each workload's pod listens on, by container.
  const pods = new Map<KubeObject, { container: Container; port: number; host: string }[]>();
  for (const workload of workloads(objects)) {
    const sandbox = await PodSandbox.create({ objects, workload, fixture: FIXTURE });
    try {
      const found = [];
      for (const container of podSpec(workload).containers) {
        for (const listener of await listeners(sandbox, container)) {
          found.push({ container, ...listener });
        }
      }
      pods.set(workload, found);
    } finally {
      await sandbox.remove();
    }
  }

  // Every Service port reaches a listener of a selected pod, on a pod-reachable address.
  for (const service of services) {
    const spec = service.spec as ServiceSpec;
    const selected = [...pods.keys()].filter((workload) =>
      workload.metadata.namespace === service.metadata.namespace &&
      podLabels(workload).some((labels) =>
        Object.entries(spec.selector ?? {}).every(([key, value]) => labels[key] === value)
      )
    );
    if (selected.length === 0) problems.push(`${objectId(service)} selects no workload`);
    for (const workload of selected) {
      for (const servicePort of spec.ports) {
        const target = servicePort.targetPort ?? servicePort.port;
        // A named targetPort is looked up among the ports of all containers of the pod.
        const containerPort = typeof target === "number"
          ? target
          : podSpec(workload).containers.flatMap((container) => container.ports ?? [])
            .find((port) => port.name === target)?.containerPort;
        const where = `${objectId(service)} port ${servicePort.port} -> ${objectId(workload)}`;
        if (containerPort === undefined) {
          problems.push(`${where}: no container port named ${target}`);
          continue;
        }
        const listener = pods.get(workload)!.find((candidate) => candidate.port === containerPort);
        if (!listener) {
          problems.push(`${where}: nothing in the pod listens on ${containerPort}`);
        } else if (/^(127\.|localhost$|::1$)/.test(listener.host)) {
          problems.push(
            `${where}: ${listener.container.name} binds ${listener.host}:${containerPort}, ` +
              `unreachable from outside the pod`,
          );
        } else {
          checked.push(`${where} ${listener.container.name}:${containerPort}`);
        }
      }
    }
  }

  // Every in-cluster URL in the agent's and cloud's environment names an existing Service port.
  const addresses: { from: string; host: string; port: number; namespace: string }[] = [];
  for (const [workload] of pods) {
    const namespace = workload.metadata.namespace ?? "default";
    const sandbox = await PodSandbox.create({ objects, workload, fixture: FIXTURE });
    try {
      for (const container of podSpec(workload).containers) {
        const program = outpostProgram(container.image);
        if (program) {
          const { env } = sandbox.env(container, (await imageConfig(program)).env);
          for (const [name, value] of Object.entries(env)) {
            if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) continue;
            const defaults: Record<string, number> = {
              "http:": 80,
              "https:": 443,
              "mqtt:": 1883,
              "mqtts:": 8883,
              "nats:": 4222,
            };
            // A list of servers (NATS, MQTT with failover) is comma-separated.
            for (const each of value.split(",")) {
              const url = new URL(each);
              addresses.push({
                from: `${objectId(workload)} ${container.name} ${name}=${each}`,
                host: url.hostname,
                port: Number(url.port || defaults[url.protocol]),
                namespace,
              });
            }
          }
        }
        const command = (container as { command?: string[] }).command ?? [];
        const config = command[0] === "nginx" ? command[command.indexOf("-c") + 1] : undefined;
        const file = config ? sandbox.hostPath(container, config) : undefined;
        if (!file) continue;
        const dir = file.slice(0, file.lastIndexOf("/"));
        for await (const entry of Deno.readDir(dir)) {
          const text = await Deno.readTextFile(`${dir}/${entry.name}`);
          for (const [, host, port] of text.matchAll(/^\s*server\s+([^\s:;]+):(\d+)[\s;]/gm)) {
            addresses.push({
              from: `${
                objectId(workload)
              } ${container.name} ${entry.name} upstream ${host}:${port}`,
              host,
              port: Number(port),
              namespace,
            });
          }
        }
      }
    } finally {
      await sandbox.remove();
    }
  }
  // A pod name under a headless Service: a StatefulSet of that serviceName has that ordinal.
  const podOfService = (pod: string, service: KubeObject) =>
    (service.spec as { clusterIP?: string }).clusterIP === "None" &&
    workloads(objects).some((workload) => {
      const spec = workload.spec as { serviceName?: string; replicas?: number };
      const ordinal = pod.slice(workload.metadata.name.length + 1);
      return workload.kind === "StatefulSet" && spec.serviceName === service.metadata.name &&
        workload.metadata.namespace === service.metadata.namespace &&
        pod.startsWith(`${workload.metadata.name}-`) && /^\d+$/.test(ordinal) &&
        Number(ordinal) < (spec.replicas ?? 1);
    });
  let inCluster = 0;
  for (const address of addresses) {
    if (address.host === "127.0.0.1" || address.host === "localhost") continue;
    const target = serviceOf(address.host, address.namespace);
    if (!target) continue; // a public endpoint
    inCluster++;
    const service = findService(target.name, target.namespace);
    if (!service) {
      problems.push(`${address.from}: no Service ${target.namespace}/${target.name}`);
    } else if (!(service.spec as ServiceSpec).ports.some((port) => port.port === address.port)) {
      problems.push(`${address.from}: Service ${target.name} has no port ${address.port}`);
    } else if (target.pod && !podOfService(target.pod, service)) {
      problems.push(`${address.from}: no pod ${target.pod} under Service ${target.name}`);
    } else {
      checked.push(`${address.from} -> ${objectId(service)}`);
    }
  }
  // The cloud's broker URL and the cloud nginx upstream at least.
  if (inCluster < 2) problems.push(`only ${inCluster} in-cluster addresses found`);
  return { problems, checked };
}

for (const overlay of OVERLAYS) {
  Deno.test(`${overlay}: every in-cluster address names a Service port that leads to a listening program`, async () => {
    const { problems, checked } = await checkOverlay(overlay);
    assert.deepEqual(problems, []);
    console.log(`${overlay}:\n  ${checked.join("\n  ")}`);
  });
}
