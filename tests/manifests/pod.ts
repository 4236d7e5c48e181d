/**
 * Runs the containers of a rendered pod template on this machine the way the kubelet would
 * start them, as far as that matters to the programs: the same environment (image `ENV`, then
 * `envFrom`, then `env`, with downward-API, Secret and ConfigMap values resolved), the same
 * command and arguments, the volumes materialized as directories, and the probes resolved the
 * kubelet's way (a named port is looked up in the probed container only).
 *
 * What cannot be the same is substituted, and every substitution is recorded in
 * {@link PodSandbox.substitutions} so a test can print it:
 * - a mount path becomes a directory under the sandbox root (a value in the environment, an
 *   argument or a config file that names a path inside a mount is rewritten to it);
 * - a port of the pod's network namespace becomes a free port of this machine (pods have their
 *   own network namespace, this test does not), consistently for every container of the pod;
 * - the pod IP is a non-loopback address of this machine when there is one.
 *
 * Nothing here talks to a cluster.
 * @module
 */
import type { Container, KubeObject, PodSpec, Volume } from "./kube.ts";
import { freePort } from "./kube.ts";

/** What a cluster provides outside Git, with test values. */
export interface ClusterFixture {
  /** `spec.nodeName` of the pod (the downward API's node name). */
  nodeName: string;
  /** Secrets by name: key → value. A Secret missing here does not exist. */
  secrets: Record<string, Record<string, string>>;
  /** ConfigMaps created outside Git, by name: key → value. */
  configMaps?: Record<string, Record<string, string>>;
}

/** A volume of the pod, materialized as a directory on this machine. */
export interface HostVolume {
  name: string;
  dir: string;
  /** emptyDir and hostPath volumes are writable; ConfigMap and Secret volumes never are. */
  writable: boolean;
  describe: string;
}

/** A volume mount of a container, resolved to its host directory. */
export interface HostMount {
  mountPath: string;
  dir: string;
  readOnly: boolean;
  volume: string;
}

/** The resolved environment of a container, with where each value came from. */
export interface ResolvedEnv {
  env: Record<string, string>;
  sources: Record<string, string>;
}

/** An `httpGet` probe as rendered. */
export interface HttpProbe {
  httpGet?: {
    path?: string;
    port: number | string;
    host?: string;
    scheme?: string;
    httpHeaders?: { name: string; value: string }[];
  };
  tcpSocket?: { port: number | string };
  exec?: unknown;
  periodSeconds?: number;
  failureThreshold?: number;
}

/** Probe kinds, in the order the kubelet runs them. */
export const PROBE_KINDS = ["startupProbe", "readinessProbe", "livenessProbe"] as const;

/** A probe kind. */
export type ProbeKind = typeof PROBE_KINDS[number];

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * The port a probe targets, resolved as the kubelet does (`extractPort` in
 * pkg/kubelet/prober): a number is used as is; a name is looked up among the ports of the
 * probed container only (not of other containers of the pod), and failing that, parsed as a
 * number.
 * @throws Error naming the container and the port when the kubelet could not resolve it.
 */
export function probePort(port: number | string, container: Container): number {
  if (typeof port === "number") return port;
  const named = (container.ports ?? []).find((candidate) => candidate.name === port);
  if (named) return named.containerPort;
  if (/^\d+$/.test(port)) return Number(port);
  throw new Error(
    `container ${container.name}: probe port '${port}' is not a port of this container ` +
      `(the kubelet resolves a named probe port in the probed container only; it declares ` +
      `${JSON.stringify((container.ports ?? []).map((p) => p.name ?? p.containerPort))})`,
  );
}

/**
 * Expands `$(VAR)` references the way the kubelet does in `env` values, `command` and `args`:
 * a defined variable is replaced, an undefined reference is left as it is, `$$` is a `$`.
 */
export function expandKubeVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (match === "$$") return "$";
    return name !== undefined && name in env ? env[name] : match;
  });
}

/** The ConfigMap or Secret data a reference resolves to, or undefined when it does not exist. */
function lookup(
  objects: KubeObject[],
  namespace: string,
  fixture: ClusterFixture,
  kind: "ConfigMap" | "Secret",
  name: string,
): Record<string, string> | undefined {
  if (kind === "Secret") return fixture.secrets[name];
  const rendered = objects.find((object) =>
    object.kind === "ConfigMap" && object.metadata.name === name &&
    object.metadata.namespace === namespace
  );
  if (rendered) return (rendered.data ?? {}) as Record<string, string>;
  return fixture.configMaps?.[name];
}

/** Options of {@link resolveEnv}. */
export interface ResolveEnvOptions {
  /** Every rendered object of the overlay (for ConfigMaps). */
  objects: KubeObject[];
  namespace: string;
  podName: string;
  podIp: string;
  fixture: ClusterFixture;
  /** `ENV` of the image, the lowest layer. */
  imageEnv?: Record<string, string>;
  serviceAccountName?: string;
}

/**
 * The environment a container starts with: the image's `ENV`, overridden by `envFrom` (in
 * order), overridden by `env` (in order, `$(VAR)` expanded against what came before), as the
 * kubelet builds it. Secrets and ConfigMaps come from `objects` and the fixture.
 * @throws Error when a required Secret, ConfigMap or key is missing (the pod would not start:
 * CreateContainerConfigError) or a downward-API field is not supported here.
 */
export function resolveEnv(container: Container, options: ResolveEnvOptions): ResolvedEnv {
  const { objects, namespace, fixture } = options;
  const env: Record<string, string> = {};
  const sources: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.imageEnv ?? {})) {
    env[name] = value;
    sources[name] = "image ENV";
  }
  // What the kubelet itself knows: envFrom and env, used for $(VAR) expansion.
  const kubelet: Record<string, string> = {};
  const set = (name: string, value: string, source: string) => {
    env[name] = value;
    kubelet[name] = value;
    sources[name] = source;
  };
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) throw new Error(`container ${container.name}: unsupported envFrom entry`);
    const kind = from.configMapRef ? "ConfigMap" : "Secret";
    const data = lookup(objects, namespace, fixture, kind, ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new Error(`container ${container.name}: envFrom ${kind} ${ref.name} does not exist`);
    }
    const prefix = (from as { prefix?: string }).prefix ?? "";
    for (const [key, value] of Object.entries(data)) {
      // The kubelet skips keys that are not valid variable names (and reports an event).
      if (!ENV_NAME.test(prefix + key)) continue;
      set(prefix + key, value, `${kind} ${ref.name}`);
    }
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined || !entry.valueFrom) {
      set(entry.name, expandKubeVars(entry.value ?? "", kubelet), "env value");
      continue;
    }
    const { fieldRef, secretKeyRef, configMapKeyRef } = entry.valueFrom;
    if (fieldRef) {
      const fields: Record<string, string> = {
        "spec.nodeName": fixture.nodeName,
        "metadata.name": options.podName,
        "metadata.namespace": namespace,
        "status.podIP": options.podIp,
        "status.hostIP": options.podIp,
        "spec.serviceAccountName": options.serviceAccountName ?? "default",
      };
      const value = fields[fieldRef.fieldPath];
      if (value === undefined) {
        throw new Error(`container ${container.name}: fieldRef ${fieldRef.fieldPath} unsupported`);
      }
      set(entry.name, value, `downward API ${fieldRef.fieldPath}`);
      continue;
    }
    const keyRef = secretKeyRef ?? configMapKeyRef;
    if (!keyRef) {
      throw new Error(`container ${container.name}: unsupported valueFrom of ${entry.name}`);
    }
    const kind = secretKeyRef ? "Secret" : "ConfigMap";
    const value = lookup(objects, namespace, fixture, kind, keyRef.name)?.[keyRef.key];
    if (value === undefined) {
      if (keyRef.optional) continue;
      throw new Error(
        `container ${container.name}: ${entry.name} needs key ${keyRef.key} of ${kind} ` +
          `${keyRef.name}, which does not exist (the pod would not start)`,
      );
    }
    set(entry.name, value, `${kind} ${keyRef.name} key ${keyRef.key}`);
  }
  return { env, sources };
}

/** The pod IP stand-in: a non-loopback IPv4 address of this machine, else 127.0.0.1. */
export function podIpStandIn(): string {
  const candidate = Deno.networkInterfaces().find((iface) =>
    iface.family === "IPv4" && !iface.address.startsWith("127.")
  );
  return candidate?.address ?? "127.0.0.1";
}

/** Options of {@link PodSandbox.create}. */
export interface PodSandboxOptions {
  /** The rendered objects of the overlay. */
  objects: KubeObject[];
  /** The workload whose pod template runs. */
  workload: KubeObject;
  fixture: ClusterFixture;
}

/**
 * One pod on this machine: its volumes as directories under a temp root, its network namespace
 * as a map from pod ports to free ports, and the record of every substitution made.
 */
export class PodSandbox {
  readonly root: string;
  readonly spec: PodSpec;
  readonly namespace: string;
  readonly podName: string;
  readonly podIp: string;
  readonly objects: KubeObject[];
  readonly fixture: ClusterFixture;
  readonly volumes = new Map<string, HostVolume>();
  /** Pod port → port on this machine. */
  readonly ports = new Map<number, number>();
  /** Every deviation from the rendered pod, as readable lines. */
  readonly substitutions: string[] = [];

  private constructor(root: string, options: PodSandboxOptions) {
    this.root = root;
    this.spec = (options.workload.spec as { template: { spec: PodSpec } }).template.spec;
    this.namespace = options.workload.metadata.namespace ?? "default";
    this.podName = `${options.workload.metadata.name}-test`;
    this.podIp = podIpStandIn();
    this.objects = options.objects;
    this.fixture = options.fixture;
  }

  /** Creates the sandbox and materializes every volume of the pod. */
  static async create(options: PodSandboxOptions): Promise<PodSandbox> {
    const root = await Deno.makeTempDir({
      prefix: `outpost-pod-${options.workload.metadata.name}-`,
    });
    // nginx runs as the container's user (uid 101), not as this test's: it must traverse the root.
    await Deno.chmod(root, 0o755);
    const sandbox = new PodSandbox(root, options);
    try {
      for (const volume of sandbox.spec.volumes ?? []) {
        sandbox.volumes.set(volume.name, await sandbox.#materialize(volume));
      }
      // A StatefulSet's volumeClaimTemplates: one persistent volume each, writable.
      const claims = (options.workload.spec as { volumeClaimTemplates?: KubeObject[] })
        .volumeClaimTemplates ?? [];
      for (const claim of claims) {
        const dir = `${root}/volumes/${claim.metadata.name}`;
        await Deno.mkdir(dir, { recursive: true });
        await Deno.chmod(dir, 0o777);
        sandbox.volumes.set(claim.metadata.name, {
          name: claim.metadata.name,
          dir,
          writable: true,
          describe: "volumeClaimTemplate",
        });
      }
    } catch (error) {
      await sandbox.remove();
      throw error;
    }
    return sandbox;
  }

  async #materialize(volume: Volume): Promise<HostVolume> {
    const dir = `${this.root}/volumes/${volume.name}`;
    await Deno.mkdir(dir, { recursive: true });
    if (volume.emptyDir) {
      await Deno.chmod(dir, 0o777); // as the kubelet creates an emptyDir
      return { name: volume.name, dir, writable: true, describe: "emptyDir" };
    }
    if ((volume as { persistentVolumeClaim?: unknown }).persistentVolumeClaim) {
      await Deno.chmod(dir, 0o777);
      return { name: volume.name, dir, writable: true, describe: "persistentVolumeClaim" };
    }
    if (volume.hostPath) {
      // Node provisioning creates it (install -d -o 65532 -g 65532 -m 0750 <path>).
      await Deno.chmod(dir, 0o777);
      return {
        name: volume.name,
        dir,
        writable: true,
        describe: `hostPath ${volume.hostPath.path}`,
      };
    }
    await Deno.chmod(dir, 0o755);
    // A projected volume puts the files of several ConfigMaps and Secrets in one directory.
    const projected = volume.projected;
    const sources = projected
      ? projected.sources.map((source) => {
        if (source.configMap) return { kind: "ConfigMap" as const, ...source.configMap };
        if (source.secret) return { kind: "Secret" as const, ...source.secret };
        throw new Error(`volume ${volume.name}: only configMap and secret projections`);
      })
      : volume.configMap
      ? [{ kind: "ConfigMap" as const, ...volume.configMap }]
      : volume.secret
      ? [{ kind: "Secret" as const, name: volume.secret.secretName, ...volume.secret }]
      : undefined;
    if (!sources) {
      throw new Error(
        `volume ${volume.name}: only emptyDir, hostPath, configMap, secret and projected`,
      );
    }
    const described: string[] = [];
    for (const source of sources) {
      const data = lookup(this.objects, this.namespace, this.fixture, source.kind, source.name);
      if (!data && !source.optional) {
        throw new Error(`volume ${volume.name}: ${source.kind} ${source.name} does not exist`);
      }
      const mode = (source as { defaultMode?: number }).defaultMode ?? projected?.defaultMode ??
        0o644;
      // `items` projects only the listed keys, each at its path (as the kubelet does).
      const items = (source as { items?: { key: string; path: string }[] }).items;
      const files = items
        ? items.filter((item) => data?.[item.key] !== undefined)
          .map((item) => [item.path, data![item.key]] as const)
        : Object.entries(data ?? {});
      for (const [path, value] of files) {
        if (path.includes("/") || path.startsWith(".")) {
          throw new Error(`volume ${volume.name}: item path '${path}' is not supported here`);
        }
        await Deno.writeTextFile(`${dir}/${path}`, value, { mode });
        await Deno.chmod(`${dir}/${path}`, mode);
      }
      described.push(`${source.kind} ${source.name}${data ? "" : " (optional, absent: empty)"}`);
    }
    const describe = projected ? `projected ${described.join(" + ")}` : described[0];
    return { name: volume.name, dir, writable: false, describe };
  }

  /** The mounts of a container, resolved to host directories. */
  mounts(container: Container): HostMount[] {
    return (container.volumeMounts ?? []).map((mount) => {
      const volume = this.volumes.get(mount.name);
      if (!volume) throw new Error(`container ${container.name}: no volume ${mount.name}`);
      if ((mount as { subPath?: string }).subPath) {
        throw new Error(`container ${container.name}: subPath mounts are not supported here`);
      }
      return {
        mountPath: mount.mountPath.replace(/\/+$/, ""),
        dir: volume.dir,
        readOnly: mount.readOnly === true || !volume.writable,
        volume: mount.name,
      };
    });
  }

  /** The host directories a container may write: its writable mounts. */
  writableDirs(container: Container): string[] {
    return this.mounts(container).filter((mount) => !mount.readOnly).map((mount) => mount.dir);
  }

  /**
   * The host path of a path inside the container when it lies in one of its mounts (the
   * longest matching mount path wins), else undefined.
   */
  hostPath(container: Container, path: string): string | undefined {
    let best: HostMount | undefined;
    for (const mount of this.mounts(container)) {
      if (path === mount.mountPath || path.startsWith(`${mount.mountPath}/`)) {
        if (!best || mount.mountPath.length > best.mountPath.length) best = mount;
      }
    }
    return best ? best.dir + path.slice(best.mountPath.length) : undefined;
  }

  /**
   * Rewrites every `<mount path>/…` inside a config file to its host path, leaving comment
   * lines (`#`) alone; records what it did.
   */
  rewriteMountPaths(container: Container, text: string, where: string): string {
    const mounts = this.mounts(container).sort((a, b) => b.mountPath.length - a.mountPath.length);
    return text.split("\n").map((line) => {
      if (line.trimStart().startsWith("#")) return line;
      let result = line;
      for (const mount of mounts) {
        const pattern = new RegExp(
          `(^|[\\s"'=:])${escapeRegExp(mount.mountPath)}(?=/|$|[\\s;"'])`,
          "g",
        );
        result = result.replace(pattern, (_match, before: string) => {
          this.#record(
            `${where}: path ${mount.mountPath} -> ${mount.dir} (volume ${mount.volume})`,
          );
          return before + mount.dir;
        });
      }
      return result;
    }).join("\n");
  }

  /** The port on this machine that stands for `podPort` of this pod. */
  hostPort(podPort: number): number {
    let port = this.ports.get(podPort);
    if (port === undefined) {
      port = freePort();
      this.ports.set(podPort, port);
      this.#record(`pod port ${podPort} -> port ${port} of this machine`);
    }
    return port;
  }

  /** A loopback port where nothing listens: for servers that are not part of the test. */
  closedPort(): number {
    return freePort();
  }

  /** The environment of a container (see {@link resolveEnv}). */
  env(container: Container, imageEnv?: Record<string, string>): ResolvedEnv {
    return resolveEnv(container, {
      objects: this.objects,
      namespace: this.namespace,
      podName: this.podName,
      podIp: this.podIp,
      fixture: this.fixture,
      imageEnv,
      serviceAccountName: (this.spec as { serviceAccountName?: string }).serviceAccountName,
    });
  }

  /** Records a substitution (once). */
  record(line: string): void {
    this.#record(line);
  }

  #record(line: string): void {
    if (!this.substitutions.includes(line)) this.substitutions.push(line);
  }

  /**
   * The URL the kubelet would call for an `httpGet` probe of `container`, on this machine:
   * the pod IP stand-in and the host port standing for the resolved pod port.
   */
  probeUrl(container: Container, probe: HttpProbe): URL {
    const get = probe.httpGet;
    if (!get) throw new Error(`container ${container.name}: not an httpGet probe`);
    const port = this.hostPort(probePort(get.port, container));
    const scheme = (get.scheme ?? "HTTP").toLowerCase();
    return new URL(`${scheme}://${get.host ?? this.podIp}:${port}${get.path ?? "/"}`);
  }

  /** Removes the sandbox directory. */
  async remove(): Promise<void> {
    await Deno.remove(this.root, { recursive: true }).catch(() => {});
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A process started for a container, with its output kept for failure messages. */
export class ContainerProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly output: string[] = [];
  exitCode: number | undefined;
  readonly #done: Promise<unknown>;

  /**
   * Spawns the process. `discardStdout` sends its standard output to /dev/null: a program
   * running as another user than this test cannot reopen `/dev/stdout` when it is this
   * test's pipe (nginx's `access_log /dev/stdout`).
   */
  constructor(
    name: string,
    command: string,
    options: Deno.CommandOptions & { discardStdout?: boolean },
  ) {
    this.name = name;
    const { discardStdout, ...rest } = options;
    this.child = new Deno.Command(command, {
      ...rest,
      stdin: "null",
      stdout: discardStdout ? "null" : "piped",
      stderr: "piped",
    }).spawn();
    this.child.status.then((status) => this.exitCode = status.code);
    this.#done = Promise.all([
      discardStdout ? Promise.resolve() : collect(this.child.stdout, this.output),
      collect(this.child.stderr, this.output),
    ]);
  }

  /** The last lines of its output. */
  tail(lines = 30): string {
    return `--- ${this.name} (last ${lines} lines) ---\n${this.output.slice(-lines).join("\n")}`;
  }

  /**
   * Sends SIGTERM (as the kubelet does), waits up to `graceSeconds`, then SIGKILL.
   * Returns the exit code and whether it exited within the grace period.
   */
  async stop(graceSeconds = 10): Promise<{ code: number; graceful: boolean }> {
    let graceful = true;
    if (this.exitCode === undefined) {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // already exited
      }
      const timer = setTimeout(() => {
        graceful = false;
        try {
          this.child.kill("SIGKILL");
        } catch {
          // already exited
        }
      }, graceSeconds * 1000);
      await this.child.status;
      clearTimeout(timer);
    }
    const status = await this.child.status;
    await this.#done;
    return { code: status.code, graceful };
  }
}

async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    into.push(...lines);
  }
  if (buffered) into.push(buffered);
}

/**
 * Calls `url` until it answers 200, failing early when one of `processes` exits.
 * @returns the status and body of the successful response.
 */
export async function waitFor200(
  url: URL,
  processes: ContainerProcess[],
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    const exited = processes.find((process) => process.exitCode !== undefined);
    if (exited) {
      throw new Error(
        `${exited.name} exited with code ${exited.exitCode} before ${url} answered 200\n` +
          processes.map((process) => process.tail()).join("\n"),
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
      const body = await response.text();
      if (response.status === 200) return { status: 200, body };
      last = `${response.status} ${body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${url} did not answer 200 within ${timeoutMs} ms (last: ${last})\n` +
      processes.map((process) => process.tail()).join("\n"),
  );
}
