// The NATS cluster of the overlays that run it (k8s/base/nats, k8s/components/nats): the
// StatefulSet's shape (three servers, one per node, JetStream on a volume each, a disruption
// budget that keeps the quorum, probes on the monitoring port), the server config against the
// pod it runs in (routes to exactly its pods, files in its mounts), the cloud's settings and
// Secrets, and then the rendered config run by real nats-servers: `nats-server -t` accepts it,
// and three servers started from it form a JetStream cluster that a device reaches over MQTT
// with a bearer user JWT, and that keeps serving with one server killed.
import assert from "node:assert/strict";
import mqtt from "mqtt";
import {
  type Container,
  findObject,
  freePort,
  type KubeObject,
  kustomize,
  NATS_OVERLAYS,
  OVERLAYS,
  podSpec,
  replaceOnce,
  requireTool,
  runCommand,
  workloads,
} from "./kube.ts";
import { natsBlock, natsListeners, natsRoutes } from "./nats_config.ts";
import { deviceJwt as mintDeviceJwt } from "@outpost/cloud/broker/nats/device_credentials";
import { createInstallation, type NatsInstallation, RESOLVER_DIR } from "./nats_auth.ts";
import { ContainerProcess, type HttpProbe, probePort, waitFor200 } from "./pod.ts";
import { scanFiles } from "./secret_scan.ts";
import { selfSignedCertificate } from "../support/tls.ts";

interface StatefulSetSpec {
  replicas: number;
  serviceName: string;
  podManagementPolicy?: string;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: unknown };
  volumeClaimTemplates: {
    metadata: { name: string };
    spec: { accessModes: string[]; resources: { requests: { storage: string } } };
  }[];
}

interface NatsDeployment {
  objects: KubeObject[];
  statefulSet: KubeObject & { spec: StatefulSetSpec };
  server: Container;
  /** nats.conf as rendered into its ConfigMap. */
  conf: string;
  /** The directory each mount path of the server container shows, by volume. */
  mounts: Map<string, { volume: string; readOnly: boolean }>;
}

function matchesLabels(selector: Record<string, string>, labels: Record<string, string>) {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

async function natsDeployment(overlay: string): Promise<NatsDeployment> {
  const objects = await kustomize(`k8s/overlays/${overlay}`);
  const statefulSet = findObject(objects, "StatefulSet", "outpost-nats") as
    & KubeObject
    & { spec: StatefulSetSpec };
  const spec = podSpec(statefulSet);
  const server = spec.containers.find((container) => container.name === "nats");
  assert.ok(server, `${overlay}: the StatefulSet has a container nats`);
  const command = (server as { command?: string[] }).command ?? [];
  assert.equal(command[0], "nats-server");
  const configPath = command[command.indexOf("--config") + 1];
  const configMount = server.volumeMounts?.find((mount) =>
    configPath.startsWith(`${mount.mountPath}/`)
  );
  assert.ok(configMount, `${overlay}: ${configPath} is in a mount`);
  const volume = spec.volumes?.find((candidate) => candidate.name === configMount.name);
  const configMapName = volume?.projected?.sources.find((source) => source.configMap)?.configMap
    ?.name;
  const configMap = findObject(objects, "ConfigMap", configMapName ?? "<none>");
  const file = configPath.slice(configMount.mountPath.length + 1);
  const conf = (configMap.data as Record<string, string>)[file];
  assert.ok(conf, `${overlay}: ConfigMap ${configMapName} holds ${file}`);
  const mounts = new Map(
    (server.volumeMounts ?? []).map((
      mount,
    ) => [mount.mountPath, { volume: mount.name, readOnly: mount.readOnly === true }]),
  );
  return { objects, statefulSet, server, conf, mounts };
}

/** The mount a path of the server container lies in. */
function mountOf(deployment: NatsDeployment, path: string) {
  for (const [mountPath, mount] of deployment.mounts) {
    if (path === mountPath || path.startsWith(`${mountPath}/`)) return { mountPath, ...mount };
  }
  return undefined;
}

function configMapEnv(objects: KubeObject[], prefix: string): Record<string, string> {
  const found = objects.filter((object) =>
    object.kind === "ConfigMap" && object.metadata.name.startsWith(`${prefix}-`)
  );
  assert.equal(found.length, 1, `one ConfigMap ${prefix}-<hash>`);
  return found[0].data as Record<string, string>;
}

for (const overlay of NATS_OVERLAYS) {
  Deno.test(`${overlay}: three NATS servers start together, one per node, each with JetStream on its own volume`, async () => {
    const deployment = await natsDeployment(overlay);
    const { spec } = deployment.statefulSet;
    assert.equal(spec.replicas, 3);
    assert.equal(spec.podManagementPolicy, "Parallel", "no pod waits for another at first start");
    const labels = spec.template.metadata.labels;
    assert.ok(matchesLabels(spec.selector.matchLabels, labels));
    const antiAffinity = (podSpec(deployment.statefulSet) as {
      affinity?: {
        podAntiAffinity?: {
          requiredDuringSchedulingIgnoredDuringExecution?: {
            topologyKey: string;
            labelSelector: { matchLabels: Record<string, string> };
          }[];
        };
      };
    }).affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.ok(
      antiAffinity.some((term) =>
        term.topologyKey === "kubernetes.io/hostname" &&
        matchesLabels(term.labelSelector.matchLabels, labels)
      ),
      "required anti-affinity of the servers to each other on the node",
    );
    // JetStream and the account resolver write to the claimed volume, nowhere else.
    assert.equal(spec.volumeClaimTemplates.length, 1);
    const claim = spec.volumeClaimTemplates[0];
    assert.deepEqual(claim.spec.accessModes, ["ReadWriteOnce"]);
    assert.match(claim.spec.resources.requests.storage, /^\d+Gi$/);
    const jetstream = natsBlock(deployment.conf, "jetstream") ?? "";
    const storeDir = /^\s*store_dir:\s*(\S+)/m.exec(jetstream)?.[1] ?? "<unset>";
    // The resolver block comes from auth.conf (nats:init --resolver-dir, default /data/jwt).
    assert.equal(natsBlock(deployment.conf, "resolver"), undefined, "not twice");
    for (const [what, dir] of [["jetstream store_dir", storeDir], ["resolver dir", RESOLVER_DIR]]) {
      const mount = mountOf(deployment, dir);
      assert.equal(mount?.volume, claim.metadata.name, `${what} ${dir} is on the claimed volume`);
      assert.equal(mount?.readOnly, false);
    }
    // JetStream's file store must fit the volume it is on.
    const maxFile = /^\s*max_file_store:\s*(\d+)G/m.exec(jetstream)?.[1];
    assert.ok(maxFile && Number(maxFile) < parseInt(claim.spec.resources.requests.storage));
  });

  Deno.test(`${overlay}: the disruption budget lets one NATS server go at a time, keeping the quorum of two`, async () => {
    const deployment = await natsDeployment(overlay);
    const budget = findObject(deployment.objects, "PodDisruptionBudget", "outpost-nats");
    const spec = budget.spec as {
      maxUnavailable?: number;
      minAvailable?: number;
      selector: { matchLabels: Record<string, string> };
    };
    assert.equal(spec.maxUnavailable, 1);
    assert.equal(spec.minAvailable, undefined);
    assert.ok(
      matchesLabels(
        spec.selector.matchLabels,
        deployment.statefulSet.spec.template.metadata.labels,
      ),
    );
    const replicas = deployment.statefulSet.spec.replicas;
    assert.ok(replicas - spec.maxUnavailable > replicas / 2, "a majority stays up");
  });

  Deno.test(`${overlay}: the NATS server is probed on its monitoring port, fully at startup and for JetStream afterwards`, async () => {
    const deployment = await natsDeployment(overlay);
    const monitoring = natsListeners(deployment.conf).find((listener) => listener.block === "http");
    assert.ok(monitoring, "the config opens a monitoring port");
    const probe = (kind: "startupProbe" | "livenessProbe" | "readinessProbe") => {
      const found = deployment.server[kind] as HttpProbe | undefined;
      assert.ok(found?.httpGet, `${kind} is an httpGet`);
      assert.equal(probePort(found.httpGet.port, deployment.server), monitoring.port, kind);
      return found.httpGet.path;
    };
    assert.equal(probe("startupProbe"), "/healthz");
    assert.equal(probe("livenessProbe"), "/healthz?js-enabled-only=true");
    assert.equal(probe("readinessProbe"), "/healthz?js-enabled-only=true");
  });

  Deno.test(`${overlay}: the NATS config routes to exactly the StatefulSet's pods under its headless Service`, async () => {
    const deployment = await natsDeployment(overlay);
    const { statefulSet, conf, server } = deployment;
    const service = findObject(deployment.objects, "Service", statefulSet.spec.serviceName);
    const serviceSpec = service.spec as { clusterIP?: string; publishNotReadyAddresses?: boolean };
    assert.equal(serviceSpec.clusterIP, "None", "headless: one DNS name per pod");
    assert.equal(serviceSpec.publishNotReadyAddresses, true, "peers resolve before they are ready");
    const cluster = natsListeners(conf).find((listener) => listener.block === "cluster");
    assert.ok(cluster);
    const namespace = statefulSet.metadata.namespace;
    const expected = Array.from(
      { length: statefulSet.spec.replicas },
      (_, i) =>
        `nats://${statefulSet.metadata.name}-${i}.${service.metadata.name}.${namespace}.svc:${cluster.port}`,
    );
    assert.deepEqual(natsRoutes(conf), expected);
    // Each server names itself after its pod.
    assert.match(conf, /^server_name: \$POD_NAME$/m);
    const podName = server.env?.find((entry) => entry.name === "POD_NAME");
    assert.equal(podName?.valueFrom?.fieldRef?.fieldPath, "metadata.name");
  });

  Deno.test(`${overlay}: the NATS config reads its TLS files, its auth include and its pid file from the pod's mounts`, async () => {
    const deployment = await natsDeployment(overlay);
    const { conf, objects } = deployment;
    const spec = podSpec(deployment.statefulSet);
    const mqttBlock = natsBlock(conf, "mqtt") ?? "";
    for (const key of ["cert_file", "key_file"]) {
      const path = new RegExp(`${key}:\\s*(\\S+)`).exec(mqttBlock)?.[1] ?? "<unset>";
      const mount = mountOf(deployment, path);
      const volume = spec.volumes?.find((candidate) => candidate.name === mount?.volume);
      assert.equal(volume?.secret?.secretName, "outpost-nats-tls", `${key} ${path}`);
    }
    // cert-manager issues that Secret (k8s/components/nats/infrastructure).
    const certificate = findObject(objects, "Certificate", "outpost-nats-tls");
    assert.equal((certificate.spec as { secretName: string }).secretName, "outpost-nats-tls");
    // auth.conf sits beside nats.conf (includes are relative), from Secret outpost-nats-auth.
    assert.match(conf, /^include \.\/auth\.conf$/m);
    const config = spec.volumes?.find((volume) => volume.name === "config");
    const auth = config?.projected?.sources.find((source) => source.secret)?.secret;
    assert.equal(auth?.name, "outpost-nats-auth");
    assert.deepEqual(auth?.items, [{ key: "auth.conf", path: "auth.conf" }]);
    // The pid file for lame-duck mode (preStop) is on a writable mount.
    const pidFile = /^pid_file:\s*(\S+)/m.exec(conf)?.[1] ?? "<unset>";
    assert.equal(mountOf(deployment, pidFile)?.readOnly, false, pidFile);
    const preStop =
      (deployment.server as { lifecycle?: { preStop?: { exec?: { command: string[] } } } })
        .lifecycle?.preStop?.exec?.command;
    assert.deepEqual(preStop, ["nats-server", "--signal", `ldm=${pidFile}`]);
  });

  Deno.test(`${overlay}: the cloud uses NATS with every server, its seeds from a mounted Secret, and hands devices every server's public address`, async () => {
    const deployment = await natsDeployment(overlay);
    const { objects, statefulSet } = deployment;
    const env = configMapEnv(objects, "outpost-cloud-env");
    assert.equal(env.OUTPOST_BROKER, "nats");
    const names = Array.from(
      { length: statefulSet.spec.replicas },
      (_, i) =>
        `${statefulSet.metadata.name}-${i}.${statefulSet.spec.serviceName}.outpost-cloud.svc`,
    );
    assert.deepEqual(env.OUTPOST_NATS_URL.split(","), names.map((name) => `nats://${name}:4222`));
    assert.deepEqual(env.OUTPOST_MQTT_URL.split(","), names.map((name) => `mqtts://${name}:8883`));
    const certificate = findObject(objects, "Certificate", "outpost-nats-tls");
    const dnsNames = (certificate.spec as { dnsNames: string[] }).dnsNames;
    // One public address per server, each a name of the certificate and its own Service.
    const publicUrls = env.OUTPOST_MQTT_PUBLIC_URL.split(",").map((url) => new URL(url));
    assert.equal(publicUrls.length, statefulSet.spec.replicas);
    for (const url of [...publicUrls, ...env.OUTPOST_MQTT_URL.split(",").map((u) => new URL(u))]) {
      assert.equal(url.protocol, "mqtts:");
      assert.ok(dnsNames.includes(url.hostname), `${url.hostname} is in the certificate`);
    }
    for (let i = 0; i < statefulSet.spec.replicas; i++) {
      const service = findObject(objects, "Service", `outpost-nats-${i}-public`);
      const spec = service.spec as { type: string; selector: Record<string, string> };
      assert.equal(spec.type, "LoadBalancer");
      assert.equal(spec.selector["statefulset.kubernetes.io/pod-name"], `outpost-nats-${i}`);
    }
    // The cloud verifies the servers with the CA that signed their certificate.
    const cloud = findObject(objects, "Deployment", "outpost-cloud");
    const cloudSpec = podSpec(cloud);
    const container = cloudSpec.containers.find((candidate) => candidate.name === "cloud")!;
    const caMount = container.volumeMounts?.find((mount) =>
      env.OUTPOST_MQTT_CA.startsWith(`${mount.mountPath}/`)
    );
    const caVolume = cloudSpec.volumes?.find((volume) => volume.name === caMount?.name);
    assert.equal(caVolume?.secret?.secretName, "outpost-nats-tls");
    assert.deepEqual(
      caVolume.secret.items?.map((item) => item.key).sort(),
      ["ca.crt", "tls.crt"],
      "never the key",
    );
    // Every seed a file of Secret outpost-nats-seeds (required), named by its *_FILE setting;
    // no seed in the environment or the ConfigMap, no Mosquitto admin any more.
    const byName = new Map((container.env ?? []).map((entry) => [entry.name, entry]));
    const seedMount = container.volumeMounts?.find((mount) => mount.name === "nats-seeds");
    const seedVolume = cloudSpec.volumes?.find((volume) => volume.name === "nats-seeds");
    assert.equal(seedVolume?.secret?.secretName, "outpost-nats-seeds");
    assert.notEqual(seedVolume?.secret?.optional, true, "required");
    assert.equal(seedMount?.readOnly, true);
    for (
      const [name, key] of [
        ["OUTPOST_NATS_OPERATOR_SEED", "operator-seed"],
        ["OUTPOST_NATS_ACCOUNT_SEED", "account-seed"],
        ["OUTPOST_NATS_SYSTEM_ACCOUNT_SEED", "system-account-seed"],
      ]
    ) {
      const item: { key: string; path: string } | undefined = seedVolume?.secret?.items?.find((
        candidate,
      ) => candidate.key === key);
      assert.ok(item, `${key} is projected`);
      assert.equal(env[`${name}_FILE`], `${seedMount?.mountPath}/${item.path}`, `${name}_FILE`);
      assert.equal(env[name], undefined, `${name} is not in the ConfigMap`);
      assert.ok(!byName.has(name), `${name} is not in the environment`);
    }
    assert.ok(!byName.has("OUTPOST_MQTT_USERNAME") && !byName.has("OUTPOST_MQTT_PASSWORD"));
    // With NATS the replicas compete for one work queue: more than one.
    assert.ok((cloud.spec as { replicas: number }).replicas >= 2);
  });
}

Deno.test("the overlays without NATS keep Mosquitto and nothing of NATS", async () => {
  for (const overlay of OVERLAYS.filter((name) => !NATS_OVERLAYS.includes(name))) {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    findObject(objects, "StatefulSet", "outpost-mosquitto");
    const nats = workloads(objects).filter((workload) => workload.metadata.name.includes("nats"));
    assert.deepEqual(nats, [], overlay);
    assert.notEqual(configMapEnv(objects, "outpost-cloud-env").OUTPOST_BROKER, "nats");
  }
  // And the NATS overlays run no Mosquitto.
  for (const overlay of NATS_OVERLAYS) {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    const mosquitto = objects.filter((object) => object.metadata.name.includes("mosquitto"));
    assert.deepEqual(mosquitto.map((object) => object.kind), [], overlay);
  }
});

// ---------------------------------------------------------------------------------------------
// The rendered config on real servers.

interface LocalServer {
  name: string;
  ports: { client: number; http: number; route: number; mqtt: number };
  dir: string;
  config: string;
  process?: ContainerProcess;
}

/** A self-signed certificate for localhost (stands in for cert-manager's). */
async function makeCertificate(dir: string): Promise<string> {
  const { cert } = await selfSignedCertificate(dir, "tls", "/CN=localhost", {
    days: 1,
    subjectAltName: "DNS:localhost,IP:127.0.0.1",
  });
  return await Deno.readTextFile(cert);
}

/**
 * The rendered config of pod `index`, as it runs here: each pod's listeners on free loopback
 * ports, the routes to the other pods' route ports, the mount paths under a directory per pod.
 * Returns the config and what was substituted.
 */
function localConfig(
  conf: string,
  servers: LocalServer[],
  index: number,
  tlsDir: string,
): { text: string; substitutions: string[] } {
  const own = servers[index];
  const substitutions: string[] = [];
  const swap = (search: string, replacement: string) => {
    conf = replaceOnce(conf, search, replacement);
    substitutions.push(`${search.trim()} -> ${replacement.trim()}`);
  };
  swap("\nlisten: 0.0.0.0:4222\n", `\nlisten: 127.0.0.1:${own.ports.client}\n`);
  swap("\nhttp: 0.0.0.0:8222\n", `\nhttp: 127.0.0.1:${own.ports.http}\n`);
  swap("\n  listen: 0.0.0.0:6222\n", `\n  listen: 127.0.0.1:${own.ports.route}\n`);
  swap("\n  port: 8883\n", `\n  port: ${own.ports.mqtt}\n  host: 127.0.0.1\n`);
  servers.forEach((server, i) => {
    swap(
      `nats://outpost-nats-${i}.outpost-nats.outpost-cloud.svc:6222`,
      `nats://127.0.0.1:${server.ports.route}`,
    );
  });
  swap("store_dir: /data\n", `store_dir: ${own.dir}/data\n`);
  swap("pid_file: /var/run/nats/nats.pid", `pid_file: ${own.dir}/run/nats.pid`);
  swap("cert_file: /etc/nats-tls/tls.crt", `cert_file: ${tlsDir}/tls.crt`);
  swap("key_file: /etc/nats-tls/tls.key", `key_file: ${tlsDir}/tls.key`);
  return { text: conf, substitutions };
}

async function prepareServers(
  conf: string,
  installation: NatsInstallation,
): Promise<{ root: string; servers: LocalServer[]; substitutions: string[] }> {
  const root = await Deno.makeTempDir({ prefix: "outpost-nats-cluster-" });
  await Deno.mkdir(`${root}/tls`);
  const servers: LocalServer[] = [0, 1, 2].map((i) => ({
    name: `outpost-nats-${i}`,
    ports: { client: freePort(), http: freePort(), route: freePort(), mqtt: freePort() },
    dir: `${root}/outpost-nats-${i}`,
    config: `${root}/outpost-nats-${i}/config/nats.conf`,
  }));
  let substitutions: string[] = [];
  for (const [i, server] of servers.entries()) {
    for (const sub of ["config", "data", "run"]) {
      await Deno.mkdir(`${server.dir}/${sub}`, { recursive: true });
    }
    const local = localConfig(conf, servers, i, `${root}/tls`);
    await Deno.writeTextFile(server.config, local.text);
    // The projected volume: auth.conf from Secret outpost-nats-auth beside nats.conf, its
    // resolver directory on this pod's volume.
    const authConf = replaceOnce(
      installation.authConf,
      `dir: "${RESOLVER_DIR}"`,
      `dir: "${server.dir}/data/jwt"`,
    );
    await Deno.writeTextFile(`${server.dir}/config/auth.conf`, authConf);
    if (i === 0) substitutions = local.substitutions;
  }
  return { root, servers, substitutions };
}

function startServer(server: LocalServer): ContainerProcess {
  const natsServer = requireTool("nats-server", "nats-server");
  server.process = new ContainerProcess(server.name, natsServer, {
    args: ["--config", server.config],
    env: { POD_NAME: server.name },
    clearEnv: true,
  });
  return server.process;
}

const renderedConf = async (overlay: string) => (await natsDeployment(overlay)).conf;

for (const overlay of NATS_OVERLAYS) {
  Deno.test(`${overlay}: nats-server -t accepts the rendered config of each pod, with an operator and accounts in auth.conf`, async () => {
    const natsServer = requireTool("nats-server", "nats-server");
    const installation = createInstallation();
    // What nats:init makes must never reach Git: the repository scan knows a seed when it sees one.
    assert.deepEqual(scanFiles([{ path: "seeds.env", text: installation.account.seed }]), [
      "seeds.env:1: a NATS nkey seed",
    ]);
    const { root, servers, substitutions } = await prepareServers(
      await renderedConf(overlay),
      installation,
    );
    try {
      await makeCertificate(`${root}/tls`);
      for (const server of servers) {
        const checked = await runCommand(natsServer, ["-t", "--config", server.config], {
          env: { POD_NAME: server.name },
        });
        assert.equal(checked.code, 0, `${server.name}: ${checked.stdout}${checked.stderr}`);
        assert.match(checked.stdout + checked.stderr, /is valid/);
      }
      // The check reads the operator JWT: a broken one is refused.
      const broken = installation.authConf.replace(/^operator: eyJ/m, "operator: eyX");
      await Deno.writeTextFile(`${servers[0].dir}/config/auth.conf`, broken);
      const refused = await runCommand(natsServer, ["-t", "--config", servers[0].config], {
        env: { POD_NAME: servers[0].name },
      });
      assert.notEqual(refused.code, 0, "a broken operator JWT is refused");
      assert.match(refused.stderr + refused.stdout, /operator/i);
      console.log(`substitutions (pod 0):\n  ${substitutions.join("\n  ")}`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

/** `promise`, or a rejection naming `what` after `ms`: an MQTT call without an answer. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends an MQTT client; one whose connection the server dropped may never confirm. */
async function closeClient(client: mqtt.MqttClient): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    client.endAsync(true).catch(() => {}),
    new Promise((resolve) => timer = setTimeout(resolve, 2_000)),
  ]);
  clearTimeout(timer);
}

/** `/routez` of a server: how many routes it has. */
async function routeCount(server: LocalServer): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${server.ports.http}/routez`);
  return (await response.json()).num_routes;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} within ${ms} ms (last: ${last})`);
}

Deno.test("three servers started from the rendered edge-production config form a JetStream cluster that devices reach over MQTT with a user JWT, also with one server killed", async () => {
  const installation = createInstallation();
  const { root, servers, substitutions } = await prepareServers(
    await renderedConf("edge-production"),
    installation,
  );
  const clients: mqtt.MqttClient[] = [];
  let passed = false;
  try {
    const ca = await makeCertificate(`${root}/tls`);
    const startedAt = Date.now();
    const processes = servers.map(startServer);
    // The startup probe's full health: JetStream's meta group has a leader and quorum.
    for (const server of servers) {
      await waitFor200(
        new URL(`http://127.0.0.1:${server.ports.http}/healthz`),
        processes,
        60_000,
      );
    }
    const healthyAfter = Date.now() - startedAt;
    for (const server of servers) {
      await waitFor(
        `${server.name} routes to both others`,
        async () => (await routeCount(server)) === 2 ? true : undefined,
      );
    }

    // A device's user JWT as enrollment mints it, signed with the account key only: nothing
    // about it on the servers.
    const deviceJwt = mintDeviceJwt(installation.account, "dev-1", Math.floor(Date.now() / 1000));
    const options = {
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      protocolVersion: 4 as const,
      ca,
      clean: false,
      clientId: "dev-1",
      username: "dev-1",
    };
    // MQTT.js without reconnects may never settle a connect whose CONNACK does not come.
    const connect = (server: LocalServer, password: string) =>
      within(
        8_000,
        `${server.name}: CONNACK`,
        mqtt.connectAsync(`mqtts://localhost:${server.ports.mqtt}`, { ...options, password }),
      );

    await assert.rejects(
      connect(servers[0], "not-a-jwt"),
      /not authori[sz]ed|bad user name or password/i,
      "a client without a valid JWT is refused",
    );
    // The first connect of an account creates its MQTT streams (R3); right after the cluster
    // forms, nats-server 2.9.10 may fail that once ("error creating store for stream", the
    // account's directory not yet made on a peer) and close the connection: a device retries.
    let connectAttempts = 0;
    for (const server of servers) {
      const client = await waitFor(`${server.name}: the device connects`, () => {
        connectAttempts++;
        return connect(server, deviceJwt);
      });
      clients.push(client);
      // QoS 1 on its own topic is accepted (PUBACK after JetStream stored the session state).
      await within(
        10_000,
        `${server.name}: PUBACK`,
        client.publishAsync("outpost/v1/dev-1/up/status", '{"online":true}', { qos: 1 }),
      );
      // The JWT's permissions hold over MQTT: its own down/ yes, another device's no (0x80).
      const granted = await within(
        10_000,
        `${server.name}: SUBACK`,
        client.subscribeAsync("outpost/v1/dev-1/down/#", { qos: 1 }),
      );
      assert.deepEqual(granted.map((grant) => grant.qos), [1], server.name);
      await assert.rejects(
        within(
          10_000,
          `${server.name}: SUBACK`,
          client.subscribeAsync("outpost/v1/dev-2/down/#", { qos: 1 }),
        ),
        /subscribe error/i,
        `${server.name}: SUBACK 0x80 for another device's topics`,
      );

      await closeClient(client);
      clients.pop();
    }

    // The delivery subjects of other clients' QoS 1 subscriptions ($MQTT.sub.>, allowed above)
    // are no MQTT topic a device can subscribe to: refused, or the connection is dropped.
    const prober = await connect(servers[0], deviceJwt);
    clients.push(prober);
    const outcome = await Promise.race([
      prober.subscribeAsync("$MQTT/sub/#", { qos: 0 }).then(
        (granted) => `granted ${granted.map((grant) => grant.qos)}`,
        (error) => `refused: ${error.message}`,
      ),
      new Promise<string>((resolve) => prober.once("close", () => resolve("connection closed"))),
      new Promise<string>((resolve) => setTimeout(() => resolve("no answer in 5 s"), 5_000)),
    ]);
    console.log(`subscribe $MQTT/sub/# with the device's JWT: ${outcome}`);
    assert.doesNotMatch(outcome, /^granted [01]/, "a device may not read others' deliveries");
    await closeClient(prober);
    clients.pop();

    // One node down (SIGKILL, as a node failure): the other two keep the quorum and serve.
    servers[2].process!.child.kill("SIGKILL");
    await servers[2].process!.stop(1);
    const survivors = servers.slice(0, 2);
    for (const server of survivors) {
      await waitFor(
        `${server.name} sees the killed server gone`,
        async () => (await routeCount(server)) === 1 ? true : undefined,
      );
      await waitFor200(
        new URL(`http://127.0.0.1:${server.ports.http}/healthz?js-enabled-only=true`),
        survivors.map((candidate) => candidate.process!),
        30_000,
      );
    }
    // A device (re)connecting to a survivor gets its session and a PUBACK once the streams the
    // killed server led have elected new leaders (the agent retries with backoff likewise).
    const killedAt = Date.now();
    let attempts = 0;
    await waitFor("a device connects and publishes QoS 1 with one server down", async () => {
      attempts++;
      const client = await connect(servers[attempts % 2], deviceJwt);
      try {
        await within(
          5_000,
          "PUBACK",
          client.publishAsync("outpost/v1/dev-1/up/status", '{"online":true}', { qos: 1 }),
        );
        return true;
      } finally {
        await closeClient(client);
      }
    }, 60_000);
    const recovery = Date.now() - killedAt;
    passed = true;
    console.log([
      `3 servers from the rendered config (routes ${servers.map((s) => s.ports.route)}), ` +
      `MQTT TLS ${servers.map((s) => s.ports.mqtt)}; healthy after ${healthyAfter} ms; ` +
      `${connectAttempts} connect(s) for the 3 servers; one ` +
      `SIGKILLed: a device's QoS 1 PUBACK after ${recovery} ms (${attempts} attempt(s))`,
      "substitutions (pod 0; the others alike):",
      ...substitutions.map((line) => `  ${line}`),
    ].join("\n"));
  } finally {
    for (const client of clients) await closeClient(client);
    for (const server of servers) {
      if (!server.process) continue;
      await server.process.stop(10);
      if (!passed) console.error(server.process.tail(40));
    }
    await Deno.remove(root, { recursive: true });
  }
});
