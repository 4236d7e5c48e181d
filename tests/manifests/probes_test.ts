// The agent and the cloud start with exactly the environment, command, ports, probes and
// read-only filesystem the rendered manifests give them: each overlay is rendered, the pod is
// materialized on this machine (pod.ts), the real programs run (programs.ts), and the probes
// are called the way the kubelet calls them. Every deviation from the rendered pod is recorded
// and printed by the test (ports, mount paths, unreachable servers, deno run instead of the
// compiled binary).
import assert from "node:assert/strict";
import { loadAgentConfig } from "@outpost/agent/config";
import { loadCloudConfig } from "@outpost/cloud/config";
import { COMPONENT_PERMISSIONS } from "@outpost/platform/runtime_flags";
import { startPostgres } from "../support/postgres.ts";
import { selfSignedCertificate } from "../support/tls.ts";
import { createInstallation } from "./nats_auth.ts";
import {
  brokerOf,
  type Container,
  findObject,
  type KubeObject,
  kustomize,
  OVERLAYS,
  podSpec,
} from "./kube.ts";
import {
  type ClusterFixture,
  type ContainerProcess,
  type HttpProbe,
  PodSandbox,
  PROBE_KINDS,
  waitFor200,
} from "./pod.ts";
import {
  denoTask,
  imageConfig,
  outpostProgram,
  prepareNginx,
  RUNTIME_VARIABLES,
  startNginx,
  startOutpostContainer,
} from "./programs.ts";

/** The node the test pod is scheduled on: the agent's device id comes from it. */
const NODE_NAME = "edge-node-1";

/** Secret values as `kubectl create secret` in docs/DEPLOYMENT.md would make them. */
function token(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * The Secrets an overlay's cluster holds, with test values. dev follows the documented
 * shortcuts: no `outpost-agent` Secret (the agents run unenrolled, without an API token) and no
 * `database-url` (the one dev replica uses a libSQL file in its data dir). The edge clusters
 * have every key.
 */
async function clusterFixture(overlay: string): Promise<ClusterFixture> {
  const enrollToken = token();
  const dev = overlay === "dev";
  const secrets: ClusterFixture["secrets"] = {
    "outpost-cloud": {
      "admin-token": token(),
      "enroll-token": enrollToken,
      // Set per test where the overlay requires it (see the cloud test).
    },
    "outpost-mosquitto-admin": { username: "outpost-admin", password: token() },
  };
  // The NATS overlays' cloud: seed files as `deno task nats:init` writes them (trailing newline).
  if (brokerOf(overlay) === "nats") {
    secrets["outpost-nats-seeds"] = NATS_SEEDS;
    secrets["outpost-nats-tls"] = await natsTls();
  }
  if (!dev) secrets["outpost-agent"] = { "enroll-token": enrollToken, "api-token": token() };
  return { nodeName: NODE_NAME, secrets };
}

let natsTlsSecret: Promise<Record<string, string>> | undefined;

/** What cert-manager puts in Secret outpost-nats-tls: a certificate, its key and the CA (PEM). */
function natsTls(): Promise<Record<string, string>> {
  natsTlsSecret ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "outpost-nats-tls-" });
    try {
      await selfSignedCertificate(dir, "tls", "/CN=outpost-nats-client.outpost-cloud.svc", {
        days: 1,
      });
      const crt = await Deno.readTextFile(`${dir}/tls.crt`);
      return {
        "tls.crt": crt,
        "tls.key": await Deno.readTextFile(`${dir}/tls.key`),
        "ca.crt": crt,
      };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return natsTlsSecret;
}

/** Real nkey seeds (the cloud checks their kind), made once for this file's tests. */
const NATS_SEEDS: Record<string, string> = (() => {
  const installation = createInstallation();
  return {
    "operator-seed": `${installation.operator.seed}\n`,
    "account-seed": `${installation.account.seed}\n`,
    "system-account-seed": `${installation.systemAccount.seed}\n`,
  };
})();

/**
 * The `database-url` of the static checks: the shape docs/DEPLOYMENT.md documents. The cloud
 * pods of the edge overlays run against a throwaway PostgreSQL instead (see their test).
 */
const DOCUMENTED_DATABASE_URL =
  "postgres://outpost:CHANGE-ME@db.example.com:5432/outpost?sslmode=require";

function container(objects: KubeObject[], kind: string, name: string, container: string) {
  const workload = findObject(objects, kind, name);
  const found = podSpec(workload).containers.find((candidate) => candidate.name === container);
  assert.ok(found, `${kind} ${name} has no container ${container}`);
  return { workload, container: found };
}

/** The probes of a container that the kubelet runs, by kind. */
function probesOf(container: Container): [string, HttpProbe][] {
  return PROBE_KINDS.flatMap((kind) => {
    const probe = container[kind] as HttpProbe | undefined;
    return probe ? [[kind, probe] as [string, HttpProbe]] : [];
  });
}

/**
 * Calls every probe of every container of the pod as the kubelet would (startup first), and
 * asserts 200. Returns one line per probe for the test output.
 */
async function passProbes(
  sandbox: PodSandbox,
  containers: Container[],
  processes: ContainerProcess[],
): Promise<string[]> {
  const lines: string[] = [];
  for (const container of containers) {
    for (const [kind, probe] of probesOf(container)) {
      assert.ok(probe.httpGet, `${container.name} ${kind}: only httpGet probes are expected here`);
      const url = sandbox.probeUrl(container, probe);
      const { status } = await waitFor200(url, processes, 30_000);
      lines.push(`${container.name} ${kind}: GET ${url} -> ${status}`);
    }
  }
  return lines;
}

/** Stops every process; the Outpost programs must exit 0 within the pod's grace period. */
async function stopAll(
  processes: ContainerProcess[],
  graceSeconds: number,
  mustExitCleanly: string[],
): Promise<void> {
  const results = await Promise.all(processes.map((process) => process.stop(graceSeconds)));
  processes.forEach((process, i) => {
    if (!mustExitCleanly.includes(process.name)) return;
    assert.equal(
      results[i].code,
      0,
      `${process.name} did not exit 0 on SIGTERM\n${process.tail()}`,
    );
    assert.ok(results[i].graceful, `${process.name} outlived terminationGracePeriodSeconds`);
  });
}

/** No write outside the writable mounts was attempted (and swallowed) by the program. */
function assertNoDeniedWrite(process: ContainerProcess): void {
  const denied = process.output.filter((line) =>
    /Requires write access|NotCapable|read-only file system|EROFS/i.test(line)
  );
  assert.deepEqual(denied, [], `${process.name} tried to write outside its writable mounts`);
}

async function listDir(dir: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("a named probe port resolves in the probed container only, as in the kubelet", async () => {
  const { probePort } = await import("./pod.ts");
  const nginx: Container = { name: "nginx", ports: [{ name: "http", containerPort: 8080 }] };
  const agent: Container = { name: "agent" };
  assert.equal(probePort("http", nginx), 8080);
  assert.equal(probePort(8080, agent), 8080);
  assert.equal(probePort("8080", agent), 8080, "an int stored as a string");
  assert.throws(() => probePort("http", agent), /not a port of this container/);
});

Deno.test("env resolves image ENV < envFrom < env, with $(VAR), Secrets and the downward API", async () => {
  const { resolveEnv, expandKubeVars } = await import("./pod.ts");
  const objects: KubeObject[] = [{
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings-abc", namespace: "ns" },
    data: { A: "from-configmap", B: "from-configmap", "not a name": "skipped" },
  }];
  const container: Container = {
    name: "app",
    envFrom: [{ configMapRef: { name: "settings-abc" } }],
    env: [
      { name: "B", value: "from-env" },
      { name: "C", value: "$(A)-$(B)-$(MISSING)-$$(A)" },
      { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
      { name: "S", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
      { name: "OPT", valueFrom: { secretKeyRef: { name: "s", key: "none", optional: true } } },
    ],
  };
  const { env } = resolveEnv(container, {
    objects,
    namespace: "ns",
    podName: "p",
    podIp: "10.0.0.1",
    fixture: { nodeName: "n1", secrets: { s: { k: "secret" } } },
    imageEnv: { A: "from-image", IMAGE_ONLY: "1" },
  });
  assert.deepEqual(env, {
    A: "from-configmap",
    B: "from-env",
    C: "from-configmap-from-env-$(MISSING)-$(A)",
    IMAGE_ONLY: "1",
    NODE: "n1",
    S: "secret",
  });
  assert.equal(expandKubeVars("$(X)", {}), "$(X)");
  const required: Container = {
    name: "app",
    env: [{ name: "S", valueFrom: { secretKeyRef: { name: "absent", key: "k" } } }],
  };
  assert.throws(
    () =>
      resolveEnv(required, {
        objects,
        namespace: "ns",
        podName: "p",
        podIp: "10.0.0.1",
        fixture: { nodeName: "n1", secrets: {} },
      }),
    /would not start/,
  );
});

Deno.test("the agent and cloud tasks run with the permissions deno task compile gives the binaries", async () => {
  // This test runs the programs with the tasks' permissions in place of the compiled binaries.
  const compiled = [...COMPONENT_PERMISSIONS].sort();
  for (const task of ["agent", "cloud"]) {
    assert.deepEqual((await denoTask(task)).flags.sort(), compiled, `deno.json task ${task}`);
  }
});

for (const overlay of OVERLAYS) {
  Deno.test(`${overlay}: every variable the agent and cloud containers get is one the program reads, with a valid value`, async () => {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    const fixture = await clusterFixture(overlay);
    // Every optional key present, so that every variable is checked.
    fixture.secrets["outpost-agent"] = { "enroll-token": token(), "api-token": token() };
    fixture.secrets["outpost-cloud"]["database-url"] = DOCUMENTED_DATABASE_URL;
    const cases = [
      container(objects, "DaemonSet", "outpost-agent", "agent"),
      container(objects, "Deployment", "outpost-cloud", "cloud"),
    ];
    for (const { workload, container: app } of cases) {
      const program = outpostProgram(app.image);
      assert.ok(program, `${app.name}: ${app.image} is an Outpost image`);
      const sandbox = await PodSandbox.create({ objects, workload, fixture });
      try {
        const { env, sources } = sandbox.env(app, (await imageConfig(program)).env);
        const unknown = Object.keys(env).filter((name) =>
          !program.settings.includes(name) && !RUNTIME_VARIABLES.includes(name)
        );
        assert.deepEqual(
          unknown.map((name) => `${name} (${sources[name]})`),
          [],
          `${overlay} ${app.name}: variables the ${program.component} does not read`,
        );
        // The program's own parser accepts every value (a bad one stops it at start); a file it
        // reads at start (a `*_FILE` secret) is the file of the mount the path lies in.
        const mapped = Object.fromEntries(
          Object.entries(env).map((
            [name, value],
          ) => [name, (name.endsWith("_FILE") && sandbox.hostPath(app, value)) || value]),
        );
        if (program.component === "agent") loadAgentConfig([], mapped);
        else loadCloudConfig([], mapped);
        // Its data and the runtime's temp files land on writable mounts.
        for (const name of ["OUTPOST_DATA_DIR", "TMPDIR"]) {
          assert.ok(env[name], `${overlay} ${app.name}: ${name} is set`);
          const writable = sandbox.mounts(app).some((mount) =>
            !mount.readOnly &&
            (env[name] === mount.mountPath || env[name].startsWith(`${mount.mountPath}/`))
          );
          assert.ok(
            writable,
            `${overlay} ${app.name}: ${name}=${env[name]} is not on a writable mount`,
          );
        }
      } finally {
        await sandbox.remove();
      }
    }
  });

  Deno.test(`${overlay}: the agent pod runs read-only with its rendered settings and passes its probes through the real nginx sidecar`, async () => {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    const { workload, container: agent } = container(
      objects,
      "DaemonSet",
      "outpost-agent",
      "agent",
    );
    const sidecar = podSpec(workload).containers.find((candidate) => candidate.name === "nginx");
    assert.ok(sidecar, "the agent pod has its nginx sidecar");
    const sandbox = await PodSandbox.create({
      objects,
      workload,
      fixture: await clusterFixture(overlay),
    });
    const processes: ContainerProcess[] = [];
    let stopped = false;
    try {
      // The agent's own listener must be what the sidecar proxies to.
      const started = await startOutpostContainer(sandbox, agent, {
        unreachable: ["OUTPOST_CLOUD_URL", "OUTPOST_MQTT_URL"],
      });
      processes.push(started.process);
      const conf = await Deno.readTextFile(
        `${sandbox.volumes.get("nginx-config")!.dir}/nginx.conf`,
      );
      const upstream = [...conf.matchAll(/^\s*server\s+(\S+);/gm)].map((match) => match[1]);
      assert.deepEqual(
        upstream,
        [`${started.listen.host}:${started.listen.podPort}`],
        "the sidecar's upstream is the agent's OUTPOST_HOST:OUTPOST_PORT",
      );
      const nginx = await prepareNginx(sandbox, sidecar);
      processes.push(startNginx(sidecar, nginx));

      const lines = await passProbes(sandbox, [agent, sidecar], processes);

      // Only the sidecar is exposed: the agent is not reachable on the pod IP.
      if (sandbox.podIp !== "127.0.0.1" && started.listen.host === "127.0.0.1") {
        await assert.rejects(
          Deno.connect({ hostname: sandbox.podIp, port: sandbox.hostPort(started.listen.podPort) }),
          "the agent's port answers on the pod IP",
        );
      }
      // The device id is the node name (downward API), and the agent says so. dev runs without
      // the agent's Secret (optional there): the agent stays ready and names what it misses.
      const ready = await fetch(sandbox.probeUrl(agent, agent.readinessProbe as HttpProbe));
      const readyBody = await ready.json();
      assert.equal(readyBody.deviceId, NODE_NAME);
      assert.deepEqual(
        readyBody.missingSecrets,
        overlay === "dev" ? ["OUTPOST_ENROLL_TOKEN", "OUTPOST_API_TOKEN"] : [],
        `${overlay}: the agent's missing secrets`,
      );

      const grace = podSpec(workload) as { terminationGracePeriodSeconds?: number };
      stopped = true;
      await stopAll(processes, grace.terminationGracePeriodSeconds ?? 30, ["agent"]);
      assertNoDeniedWrite(started.process);
      const dataDir = started.env.OUTPOST_DATA_DIR;
      assert.ok((await listDir(dataDir)).includes("agent.db"), "the database is in the data mount");
      console.log([
        `${overlay} agent pod (node ${NODE_NAME}, pod IP stand-in ${sandbox.podIp}):`,
        ...lines,
        `writable: ${started.writableDirs.join(", ")}; data dir holds ${await listDir(dataDir)}`,
        "substitutions:",
        ...sandbox.substitutions.map((line) => `  ${line}`),
      ].join("\n"));
    } finally {
      if (!stopped) await Promise.all(processes.map((process) => process.stop(5)));
      await sandbox.remove();
    }
  });

  if (overlay !== "dev") {
    Deno.test(`${overlay}: without the agent's Secret, or one of its keys, the agent container cannot start`, async () => {
      const objects = await kustomize(`k8s/overlays/${overlay}`);
      const { workload, container: agent } = container(
        objects,
        "DaemonSet",
        "outpost-agent",
        "agent",
      );
      const withSecret = await clusterFixture(overlay);
      const cases: [string, ClusterFixture][] = [
        ["no Secret outpost-agent", { ...withSecret, secrets: { ...withSecret.secrets } }],
        ["no key api-token", {
          ...withSecret,
          secrets: {
            ...withSecret.secrets,
            "outpost-agent": {
              "enroll-token": withSecret.secrets["outpost-agent"]["enroll-token"],
            },
          },
        }],
      ];
      delete cases[0][1].secrets["outpost-agent"];
      for (const [what, fixture] of cases) {
        const sandbox = await PodSandbox.create({ objects, workload, fixture });
        try {
          // What the kubelet does: CreateContainerConfigError, the pod never runs.
          assert.throws(() => sandbox.env(agent), /would not start|does not exist/, what);
        } finally {
          await sandbox.remove();
        }
      }
    });
  }

  const requiresDatabaseUrl = overlay !== "dev";
  const databaseNote = requiresDatabaseUrl
    ? " against a throwaway PostgreSQL (its database-url)"
    : " (libSQL file in its data dir, as dev runs without database-url)";
  Deno.test(`${overlay}: the cloud pod runs read-only with its rendered settings and passes its probes${databaseNote}`, async () => {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    const { workload, container: cloud } = container(
      objects,
      "Deployment",
      "outpost-cloud",
      "cloud",
    );
    const fixture = await clusterFixture(overlay);
    // The Secret's value only: what docs/DEPLOYMENT.md tells operators to put there.
    const postgres = requiresDatabaseUrl ? await startPostgres() : undefined;
    const processes: ContainerProcess[] = [];
    let sandbox: PodSandbox | undefined;
    let stopped = false;
    try {
      if (postgres) {
        fixture.secrets["outpost-cloud"]["database-url"] = await postgres.createDatabase();
      }
      sandbox = await PodSandbox.create({ objects, workload, fixture });
      // The broker is not part of this test: in Mosquitto mode the cloud connects in the
      // background and /readyz does not wait for it (DB open, migrations done); NATS mode
      // must do the same for this test to pass.
      const started = await startOutpostContainer(sandbox, cloud, {
        unreachable: ["OUTPOST_MQTT_URL", "OUTPOST_NATS_URL"],
      });
      processes.push(started.process);
      if (brokerOf(overlay) === "nats") {
        assert.equal(started.renderedEnv.OUTPOST_BROKER, "nats", "NATS mode, as rendered");
      } else assert.ok(started.renderedEnv.OUTPOST_MQTT_URL, "Mosquitto mode, as rendered");
      const lines = await passProbes(sandbox, [cloud], processes);
      const grace = podSpec(workload) as { terminationGracePeriodSeconds?: number };
      stopped = true;
      await stopAll(processes, grace.terminationGracePeriodSeconds ?? 30, ["cloud"]);
      assertNoDeniedWrite(started.process);
      const dataDir = started.env.OUTPOST_DATA_DIR;
      const files = await listDir(dataDir);
      const listening = started.process.output.find((line) => line.includes('"cloud listening"'));
      if (postgres) {
        assert.match(listening ?? "", /"database":"postgres/, "the cloud uses PostgreSQL");
        assert.deepEqual(files.filter((file) => file.endsWith(".db")), [], "no libSQL file");
      } else {
        assert.ok(files.includes("cloud.db"), "cloud.db is in the data mount");
      }
      console.log([
        `${overlay} cloud pod (pod IP stand-in ${sandbox.podIp}${
          postgres ? `, PostgreSQL ${postgres.describe} on port ${postgres.port}` : ""
        }):`,
        ...lines,
        `writable: ${started.writableDirs.join(", ")}; data dir holds ${
          files.join(", ") || "nothing"
        }`,
        "substitutions:",
        ...sandbox.substitutions.map((line) => `  ${line}`),
      ].join("\n"));
    } finally {
      if (!stopped) await Promise.all(processes.map((process) => process.stop(5)));
      await sandbox?.remove();
      await postgres?.stop();
    }
  });
}
