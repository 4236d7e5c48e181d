// The container images, built and run for real. agent/Dockerfile and cloud/Dockerfile are built
// in their deno form (`--target deno`: the deno binary, the source tree and its node_modules; the
// default target needs denort, which these machines cannot download) by a dockerd of the test's
// own, from base images made here (debootstrap root, this test's deno, a distroless stand-in:
// tests/system/docker_helpers.ts). The containers then run as the rendered edge-production
// manifests run them: user, groups, read-only root, capabilities, privilege escalation, seccomp,
// limits, volumes, environment (image ENV < envFrom < env, Secrets, downward API) and probes all
// come from `kubectl kustomize` through tests/manifests/pod.ts, not from this file. What cannot be
// the same (ports, the cluster's Services, the sidecar's image) is substituted and printed.
// The agent enrols with the cloud (PostgreSQL, Mosquitto with dynamic security, as rendered), a
// reading posted through the sidecar is stored in the cloud exactly once, also after the agent
// restarts on its volume, and both stop with exit code 0 on SIGTERM.
// Needs root and the Debian packages docker.io, debootstrap, zstd, nginx, mosquitto, postgresql,
// openssl.

import assert from "node:assert/strict";
import { type Container, findObject, kustomize, podSpec } from "../manifests/kube.ts";
import {
  type ClusterFixture,
  type ContainerProcess,
  type HttpProbe,
  PodSandbox,
  PROBE_KINDS,
} from "../manifests/pod.ts";
import { prepareNginx, startNginx } from "../manifests/programs.ts";
import { startMosquitto, TEST_DYNSEC_ADMIN, type TestMosquitto } from "../support/mosquitto.ts";
import { createTestPki, type TestPki } from "../support/tls.ts";
import { cloudRecordsPostgres, type PostgresServer, startPostgres } from "../support/postgres.ts";
import { assertSameRecords } from "../support/sync_checks.ts";
import { agentRecords } from "../support/verify.ts";
import { requireCommand } from "./ansible_helpers.ts";
import {
  buildImage,
  Dockerd,
  imageEnv,
  offlineBaseImages,
  podRunOptions,
  REPO_ROOT,
} from "./docker_helpers.ts";

const OVERLAY = "edge-production";
/**
 * edge-production's cloud runs on the NATS cluster (docs/DEPLOYMENT.md, "Which broker"), which this
 * test does not start: the cloud pod comes from the overlay on Mosquitto, whose pod spec is the
 * same but for the broker settings and Secrets and the replica count.
 */
const CLOUD_OVERLAY = "dev";
const VERSION = `0.0.0-docker.${Date.now().toString(36)}`;
const NODE_NAME = "edge-node-1";

function token(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** The node preparation of ansible/roles/outpost_node (its defaults file), for the hostPath. */
async function nodeDataDir(): Promise<{ path: string; uid: number; gid: number; mode: number }> {
  const text = await Deno.readTextFile(`${REPO_ROOT}ansible/roles/outpost_node/defaults/main.yml`);
  const value = (name: string) => {
    const match = text.match(new RegExp(`^${name}:\\s*"?([^"\\n]+)"?$`, "m"));
    if (!match) throw new Error(`outpost_node defaults: no ${name}`);
    return match[1].trim();
  };
  return {
    path: value("outpost_node_data_dir"),
    uid: Number(value("outpost_node_data_owner")),
    gid: Number(value("outpost_node_data_group")),
    mode: parseInt(value("outpost_node_data_mode"), 8),
  };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms: number,
  explain: () => Promise<string> = () => Promise.resolve(""),
): Promise<T> {
  const deadline = Date.now() + ms;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what} (${last})\n${await explain()}`);
}

/** A container of a rendered pod, run by docker. */
interface RunningContainer {
  name: string;
  container: Container;
  sandbox: PodSandbox;
  /** The environment it got (after the printed substitutions). */
  env: Record<string, string>;
}

Deno.test(`the agent and cloud images (deno form) build offline, run as the ${OVERLAY} (agent) and ${CLOUD_OVERLAY} (cloud) manifests run them, pass their probes and sync a reading exactly once`, async (t) => {
  const started = performance.now();
  for (
    const [command, pkg] of [["nginx", "nginx"], ["mosquitto", "mosquitto"], ["openssl", "openssl"]]
  ) {
    await requireCommand(command, pkg);
  }
  const objects = await kustomize(`k8s/overlays/${OVERLAY}`);
  const cloudObjects = await kustomize(`k8s/overlays/${CLOUD_OVERLAY}`);
  const agentSet = findObject(objects, "DaemonSet", "outpost-agent");
  const cloudDeployment = findObject(cloudObjects, "Deployment", "outpost-cloud");
  const containerOf = (workload: typeof agentSet, name: string) => {
    const found = podSpec(workload).containers.find((candidate) => candidate.name === name);
    assert.ok(found, `${workload.metadata.name} has no container ${name}`);
    return found;
  };
  const agent = containerOf(agentSet, "agent");
  const sidecar = containerOf(agentSet, "nginx");
  const cloud = containerOf(cloudDeployment, "cloud");

  // A failed step ends the test (each later one builds on it), straight to the cleanup.
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await t.step(name, fn)) throw new Error(`step failed: ${name}`);
  };
  const dockerd = await Dockerd.start();
  let postgres: PostgresServer | undefined;
  let broker: TestMosquitto | undefined;
  let pki: TestPki | undefined;
  const sandboxes: PodSandbox[] = [];
  let nginx: ContainerProcess | undefined;
  const logsOf = async (name: string) =>
    `--- docker logs ${name} ---\n${(await dockerd.docker(["logs", "--tail", "30", name])).output}`;
  try {
    let baseArgs: string[] = [];
    await step("offline base images (debootstrap root, deno, distroless stand-in)", async () => {
      const at = performance.now();
      baseArgs = await offlineBaseImages(dockerd);
      console.log(`  base images in ${seconds(at)}`);
    });

    // Tagged with the rendered repositories: only the tag differs from what the pods name.
    const images: Record<"agent" | "cloud", string> = { agent: "", cloud: "" };
    for (const [component, container] of [["agent", agent], ["cloud", cloud]] as const) {
      await step(`build ${component} (--target deno, VERSION ${VERSION})`, async () => {
        const at = performance.now();
        const repository = container.image!.replace(/:[^/:]+$/, "");
        images[component] = await buildImage(dockerd, component, {
          baseArgs,
          version: VERSION,
          repository,
        });
        const [user, label, size] = (await dockerd.must([
          "image",
          "inspect",
          "-f",
          '{{.Config.User}}|{{index .Config.Labels "org.opencontainers.image.version"}}|{{.Size}}',
          images[component],
        ])).split("|");
        console.log(
          `  ${images[component]} built in ${seconds(at)}, ${(Number(size) / 1e6).toFixed(0)} MB`,
        );
        assert.equal(user, "65532:65532");
        assert.equal(label, VERSION);
      });
    }

    // What the cluster holds outside Git (docs/DEPLOYMENT.md, "Secrets"), with test values.
    postgres = await startPostgres();
    // The broker's public listener is TLS, as rendered (mqtts://, the agent verifying it with the
    // CA that trust-manager puts into the ConfigMap outpost-mqtt-ca, OUTPOST_MQTT_CA).
    pki = await createTestPki();
    broker = await startMosquitto({ tls: pki });
    const enrollToken = token();
    const fixture: ClusterFixture = {
      nodeName: NODE_NAME,
      secrets: {
        "outpost-cloud": {
          "database-url": await postgres.createDatabase(),
          "admin-token": token(),
          "enroll-token": enrollToken,
        },
        "outpost-mosquitto-admin": { ...TEST_DYNSEC_ADMIN },
        "outpost-agent": { "enroll-token": enrollToken, "api-token": token() },
      },
      configMaps: { "outpost-mqtt-ca": { "ca.crt": await Deno.readTextFile(pki.caCert) } },
    };
    const adminToken = fixture.secrets["outpost-cloud"]["admin-token"];
    const apiToken = fixture.secrets["outpost-agent"]["api-token"];
    const databaseUrl = fixture.secrets["outpost-cloud"]["database-url"];

    const cloudSandbox = await PodSandbox.create({
      objects: cloudObjects,
      workload: cloudDeployment,
      fixture,
    });
    sandboxes.push(cloudSandbox);
    const agentSandbox = await PodSandbox.create({ objects, workload: agentSet, fixture });
    sandboxes.push(agentSandbox);
    // The hostPath as a node prepared by ansible/roles/outpost_node has it (not 0777).
    const node = await nodeDataDir();
    const dataVolume = podSpec(agentSet).volumes?.find((volume) => volume.hostPath);
    assert.equal(dataVolume?.hostPath?.path, node.path, "the role prepares the DaemonSet's path");
    const agentData = agentSandbox.volumes.get(dataVolume!.name)!.dir;
    await Deno.chown(agentData, node.uid, node.gid);
    await Deno.chmod(agentData, node.mode);

    const run = async (
      name: string,
      sandbox: PodSandbox,
      container: Container,
      image: string,
      substitute: (env: Record<string, string>) => Record<string, string>,
    ): Promise<RunningContainer> => {
      const { env: rendered } = sandbox.env(container, await imageEnv(dockerd, image));
      const changes = substitute(rendered);
      for (const [key, value] of Object.entries(changes)) {
        sandbox.record(`container ${container.name}: ${key}=${rendered[key]} -> ${value}`);
      }
      const env = { ...rendered, ...changes };
      sandbox.record(
        `container ${container.name}: image ${container.image} -> ${image} (--target deno)`,
      );
      await dockerd.must([
        "run",
        "-d",
        `--name=${name}`,
        ...podRunOptions(sandbox, container),
        ...Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
        image,
      ]);
      return { name, container, sandbox, env };
    };
    /** Every probe of the container, as the kubelet calls it (startup first), answers 200. */
    const passProbes = async (running: RunningContainer, also: string[] = []) => {
      const lines: string[] = [];
      for (const kind of PROBE_KINDS) {
        const probe = running.container[kind] as HttpProbe | undefined;
        if (!probe) continue;
        assert.ok(probe.httpGet, `${running.container.name} ${kind}: httpGet expected`);
        const url = running.sandbox.probeUrl(running.container, probe);
        await until(
          `${running.container.name} ${kind} ${url}`,
          async () =>
            (await fetch(url, { signal: AbortSignal.timeout(3000) })).status === 200 || undefined,
          60_000,
          async () => (await Promise.all([running.name, ...also].map(logsOf))).join("\n"),
        );
        lines.push(`${running.container.name} ${kind}: GET ${url} -> 200`);
      }
      return lines;
    };
    const probeLines: string[] = [];

    let cloudRun: RunningContainer;
    const startCloud = async () => {
      cloudRun = await run("outpost-cloud", cloudSandbox, cloud, images.cloud, (env) => ({
        OUTPOST_PORT: String(cloudSandbox.hostPort(Number(env.OUTPOST_PORT))),
        // The cluster's broker Service and the public TLS endpoint: the test's Mosquitto (with
        // dynamic security, as rendered) on loopback; its certificate names 127.0.0.1.
        OUTPOST_MQTT_URL: broker!.url,
        OUTPOST_MQTT_PUBLIC_URL: broker!.tlsUrl!,
      }));
      probeLines.push(...await passProbes(cloudRun));
    };

    let agentRun: RunningContainer;
    const startAgent = async () => {
      agentRun = await run("outpost-agent", agentSandbox, agent, images.agent, (env) => ({
        OUTPOST_PORT: String(agentSandbox.hostPort(Number(env.OUTPOST_PORT))),
        OUTPOST_CLOUD_URL: `http://127.0.0.1:${cloudRun.env.OUTPOST_PORT}`,
      }));
    };

    await step("the cloud runs as rendered and passes its probes", async () => {
      const at = performance.now();
      await startCloud();
      console.log(`  cloud ready in ${seconds(at)}`);
    });

    await step(
      "the agent runs as rendered and passes its probes through the sidecar",
      async () => {
        await startAgent();
        // The sidecar's image cannot be pulled here: this machine's nginx runs its rendered command
        // and ConfigMap as uid 101 (tests/manifests/programs.ts).
        agentSandbox.record("container nginx: nginxinc/nginx-unprivileged -> this machine's nginx");
        nginx = startNginx(sidecar, await prepareNginx(agentSandbox, sidecar));
        probeLines.push(...await passProbes(agentRun, []));
        probeLines.push(
          ...await passProbes({ ...agentRun, name: "outpost-agent", container: sidecar }),
        );
      },
    );

    const sidecarUrl = `http://127.0.0.1:${agentSandbox.hostPort(8080)}`;
    const cloudUrl = `http://127.0.0.1:${cloudRun!.env.OUTPOST_PORT}`;
    const agentSync = async () => await (await fetch(`${sidecarUrl}/api/v1/sync`)).json();

    await step(
      "both run as uid 65532, read-only, without capabilities, and report the stamped version",
      async () => {
        for (const url of [cloudUrl, sidecarUrl]) {
          assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), {
            status: "ok",
            version: VERSION,
          }, `${url}/healthz`);
        }
        for (const name of ["outpost-cloud", "outpost-agent"]) {
          const pid = await dockerd.must(["inspect", "-f", "{{.State.Pid}}", name]);
          const status = await Deno.readTextFile(`/proc/${pid}/status`);
          assert.match(status, /^Uid:\s+65532\s+65532\s+65532\s+65532$/m, name);
          assert.match(status, /^Gid:\s+65532\s/m, name);
          assert.match(status, /^Groups:.*\b65532\b/m, `${name}: fsGroup`);
          assert.match(status, /^CapEff:\s+0+$/m, name);
          assert.match(status, /^NoNewPrivs:\s+1$/m, name);
          const mounts = await Deno.readTextFile(`/proc/${pid}/mounts`);
          assert.match(mounts, /^\S+ \/ \S+ ro[,\s]/m, `${name}: the root filesystem is read-only`);
        }
        // distroless: no shell to exec into.
        const shell = await dockerd.docker(["run", "--rm", "--entrypoint=/bin/sh", images.agent]);
        assert.notEqual(shell.code, 0, "the image has no /bin/sh");
        // Every secret is there: the agent misses none.
        const ready = await (await fetch(`${sidecarUrl}/readyz`)).json();
        assert.equal(ready.deviceId, NODE_NAME);
        assert.deepEqual(ready.missingSecrets, []);
      },
    );

    let seq = 0;
    await step(
      "the agent enrols; a reading posted through the sidecar is stored in the cloud once",
      async () => {
        await until(
          "the agent online",
          async () => (await agentSync()).state === "online" || undefined,
          60_000,
          async () => JSON.stringify(await agentSync()) + "\n" + await logsOf("outpost-agent"),
        );
        const posted = await fetch(`${sidecarUrl}/api/v1/readings`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${apiToken}` },
          body: JSON.stringify({ sensor: "docker-test", value: 42.5, unit: "C" }),
        });
        assert.equal(posted.status, 201);
        seq = (await posted.json()).lastSeq;
        await until(
          "the cloud's ack",
          async () => (await agentSync()).ackedSeq === seq || undefined,
          30_000,
        );
        const stored = await fetch(
          `${cloudUrl}/api/v1/readings?device=${NODE_NAME}&sensor=docker-test`,
          { headers: { authorization: `Bearer ${adminToken}` } },
        );
        assert.equal(stored.status, 200);
        assert.deepEqual(((await stored.json()).items as { value: number }[]).map((r) => r.value), [
          42.5,
        ]);
      },
    );

    const grace = (workload: typeof agentSet) =>
      String(
        (podSpec(workload) as { terminationGracePeriodSeconds?: number })
          .terminationGracePeriodSeconds ?? 30,
      );
    const stopAndExitCode = async (name: string, workload: typeof agentSet) => {
      await dockerd.must(["stop", "-t", grace(workload), name]);
      const code = Number(await dockerd.must(["inspect", "-f", "{{.State.ExitCode}}", name]));
      assert.equal(code, 0, `${name} exit code on SIGTERM\n${await logsOf(name)}`);
    };

    await step(
      "the agent restarts on its hostPath: same device, nothing sent twice",
      async () => {
        await stopAndExitCode("outpost-agent", agentSet);
        await dockerd.must(["rm", "outpost-agent"]);
        await startAgent();
        await until(
          "the agent online again",
          async () => (await agentSync()).state === "online" || undefined,
          60_000,
          () => logsOf("outpost-agent"),
        );
        assert.equal((await agentSync()).lastSeq, seq, "the outbox survived the restart");
      },
    );

    await step(
      "SIGTERM stops both with exit code 0; the cloud holds the agent's records exactly once",
      async () => {
        await stopAndExitCode("outpost-agent", agentSet);
        await stopAndExitCode("outpost-cloud", cloudDeployment);
        const files = [];
        for await (const entry of Deno.readDir(agentData)) files.push(entry.name);
        assert.ok(files.includes("agent.db"), `the database is on the hostPath: ${files}`);
        const count = assertSameRecords(
          agentRecords(agentData),
          await cloudRecordsPostgres(databaseUrl, NODE_NAME),
          NODE_NAME,
        );
        assert.ok(count >= 1);
        for (const [volume, what] of [["tmp", "agent"]] as const) {
          const left = [];
          for await (const entry of Deno.readDir(agentSandbox.volumes.get(volume)!.dir)) {
            left.push(entry.name);
          }
          console.log(`  the ${what}'s /tmp (emptyDir) holds: ${left.join(", ") || "nothing"}`);
        }
      },
    );

    console.log([
      `${OVERLAY} pods in docker (node ${NODE_NAME}, pod IP stand-in ${agentSandbox.podIp}):`,
      ...probeLines,
      "substitutions:",
      ...[...cloudSandbox.substitutions, ...agentSandbox.substitutions].map((line) => `  ${line}`),
      `docker test: ${seconds(started)} in all`,
    ].join("\n"));
  } finally {
    await nginx?.stop(5);
    await dockerd.stop();
    for (const sandbox of sandboxes) await sandbox.remove();
    await broker?.dispose();
    if (pki) await Deno.remove(pki.dir, { recursive: true });
    await postgres?.stop();
  }
});
