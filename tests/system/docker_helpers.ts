/**
 * A private Docker engine for the image test, and the offline base images the Dockerfiles'
 * build arguments take (docs/DEPLOYMENT.md, "Building the images offline").
 *
 * dockerd is Debian's (package docker.io, 20.10), started on a socket, data root and exec root
 * of its own under a temp dir, with no iptables, no bridge and no IP forwarding: builds and
 * containers use the host network only (`--network host`), so nothing on the machine changes.
 * Builds use the classic builder (DOCKER_BUILDKIT=0): BuildKit needs images from a registry.
 * @module
 */
import type { Container, SecurityContext } from "../manifests/kube.ts";
import type { PodSandbox } from "../manifests/pod.ts";
import {
  type CommandResult,
  ensureRootImage,
  removeTree,
  requireCommand,
  runCommand,
} from "./ansible_helpers.ts";

/** The repository root (the build context). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;

/** Base images made here instead of pulled: what the Dockerfiles' build arguments name. */
export const OFFLINE_IMAGES = {
  /** debootstrap root (+ the host's CA bundle for the npm registry, when it has one). */
  build: "outpost-base/debian:bookworm",
  /** The deno executable running this test, alone at /deno (as denoland/deno:bin-*). */
  denoBin: `outpost-base/deno:bin-${Deno.version.deno}`,
  /** glibc, libgcc, libstdc++, tzdata and passwd from the same root (as distroless/cc). */
  runtime: "outpost-base/distroless-cc:nonroot",
};

const ROOT_PREFIX = "outpost-dockerd-";

/** Whether a dockerd with this process id runs (read from /proc, nothing is signalled). */
async function dockerdRuns(pid: number): Promise<boolean> {
  const name = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
  return name.trim() === "dockerd";
}

/**
 * Removes what a killed run left in the temp dir: roots whose dockerd is gone, with the mounts
 * dockerd leaves behind. A root whose dockerd still runs belongs to another run and is kept.
 */
async function removeStaleRoots(): Promise<void> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  for await (const entry of Deno.readDir(tmp)) {
    if (!entry.isDirectory || !entry.name.startsWith(ROOT_PREFIX)) continue;
    const root = `${tmp}/${entry.name}`;
    const pid = Number(await Deno.readTextFile(`${root}/dockerd.pid`).catch(() => "0"));
    if (pid > 0 && await dockerdRuns(pid)) continue;
    const age = Date.now() - ((await Deno.stat(root)).mtime?.getTime() ?? Date.now());
    // A root without a pid file may be one being started right now by another run.
    if (pid === 0 && age < 600_000) continue;
    console.log(`  removing ${root}, left by a run whose dockerd is gone`);
    await removeTree(root).catch((error) => console.log(`  could not: ${error.message}`));
  }
}

/** A dockerd of the test's own. */
export class Dockerd {
  readonly root: string;
  readonly socket: string;
  readonly #child: Deno.ChildProcess;
  readonly #log: string;

  private constructor(root: string, child: Deno.ChildProcess) {
    this.root = root;
    this.socket = `${root}/docker.sock`;
    this.#child = child;
    this.#log = `${root}/dockerd.log`;
  }

  /** Environment of a docker client talking to this daemon. */
  get env(): Record<string, string> {
    return { DOCKER_HOST: `unix://${this.socket}`, DOCKER_BUILDKIT: "0", NO_COLOR: "1" };
  }

  /** Starts dockerd and waits until it answers (throws with its log when it does not). */
  static async start(): Promise<Dockerd> {
    await requireCommand("dockerd", "docker.io");
    await requireCommand("docker", "docker.io");
    if (Deno.uid() !== 0) {
      throw new Error("Cannot run the test: dockerd needs root (run it as root)");
    }
    await removeStaleRoots();
    const root = await Deno.makeTempDir({ prefix: ROOT_PREFIX });
    const args = [
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      "--ip-forward=false",
      "--storage-driver=overlay2",
      `--data-root=${root}/data`,
      `--exec-root=${root}/exec`,
      `--pidfile=${root}/dockerd.pid`,
      `--host=unix://${root}/docker.sock`,
    ];
    // exec: the child is dockerd itself (its pid is the one to signal); output to a log file.
    const child = new Deno.Command("sh", {
      args: ["-c", `exec dockerd "$@" >"${root}/dockerd.log" 2>&1`, "dockerd", ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const dockerd = new Dockerd(root, child);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if ((await dockerd.docker(["version"])).code === 0) return dockerd;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const text = await Deno.readTextFile(dockerd.#log).catch(() => "");
    await dockerd.stop();
    throw new Error(`dockerd did not answer within 30 s; its log ends:\n${text.slice(-3000)}`);
  }

  /** Runs `docker ARGS` against this daemon. */
  docker(args: string[]): Promise<CommandResult> {
    return runCommand(["docker", ...args], { cwd: REPO_ROOT, env: this.env });
  }

  /** `docker ARGS`, throwing with its output when it fails; returns stdout. */
  async must(args: string[]): Promise<string> {
    const result = await this.docker(args);
    if (result.code !== 0) {
      throw new Error(
        `docker ${args.join(" ")} failed (${result.code}):\n${result.output.slice(-4000)}`,
      );
    }
    return result.stdout.trim();
  }

  /** Stops every container, then dockerd; unmounts what it left and removes its root. */
  async stop(): Promise<void> {
    const ids = (await this.docker(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
    if (ids.length) await this.docker(["rm", "-f", ...ids]);
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 30_000);
    await this.#child.status;
    clearTimeout(timer);
    // exec/netns/default and any overlay mounts: removeTree unmounts them first.
    await removeTree(this.root);
  }
}

/**
 * Imports or builds the three offline base images (see {@link OFFLINE_IMAGES}) and returns the
 * `--build-arg`s that select them. The debootstrap root is the one the Ansible chroot test uses
 * (cached under .data/chroot/ by {@link ensureRootImage}: built once per machine or CI run).
 */
export async function offlineBaseImages(
  dockerd: Dockerd,
  log: (line: string) => void = console.log,
): Promise<string[]> {
  await requireCommand("zstd", "zstd");
  await requireCommand("debootstrap", "debootstrap");
  const tarball = await ensureRootImage({ log });
  // dockerd 20.10 does not read zstd: decompress into the import.
  const imported = await runCommand(
    ["sh", "-c", `zstd -dcq "$0" | docker import - "$1"`, tarball, `${OFFLINE_IMAGES.build}-root`],
    { cwd: REPO_ROOT, env: dockerd.env },
  );
  if (imported.code !== 0) throw new Error(`docker import ${tarball} failed: ${imported.output}`);

  const context = await Deno.makeTempDir({ prefix: "outpost-docker-base-" });
  try {
    // Behind a proxy with its own CA (NODE_EXTRA_CA_CERTS, which Deno honours), the build stage
    // needs that CA to download npm packages; only the build stage's base carries it.
    const ca = Deno.env.get("NODE_EXTRA_CA_CERTS");
    const lines = [`FROM ${OFFLINE_IMAGES.build}-root`];
    if (ca) {
      await Deno.copyFile(ca, `${context}/ca.crt`);
      lines.push(
        "COPY ca.crt /usr/local/share/outpost-build/ca.crt",
        "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/outpost-build/ca.crt",
      );
    }
    await Deno.writeTextFile(`${context}/Dockerfile`, lines.join("\n") + "\n");
    await dockerd.must(["build", "-q", "--network", "host", "-t", OFFLINE_IMAGES.build, context]);

    // deno alone at /deno, as in denoland/deno:bin-<version>.
    await Deno.remove(`${context}/Dockerfile`);
    await Deno.copyFile(Deno.execPath(), `${context}/deno`);
    const bin = await runCommand(
      [
        "sh",
        "-c",
        `tar --numeric-owner --owner=0 --group=0 -C "$0" -cf - deno | docker import - "$1"`,
        context,
        OFFLINE_IMAGES.denoBin,
      ],
      { cwd: REPO_ROOT, env: dockerd.env },
    );
    if (bin.code !== 0) throw new Error(`importing deno failed: ${bin.output}`);
  } finally {
    await Deno.remove(context, { recursive: true });
  }

  await dockerd.must([
    "build",
    "-q",
    "--network",
    "host",
    "--build-arg",
    `BASE_IMAGE=${OFFLINE_IMAGES.build}`,
    "-f",
    `${REPO_ROOT}tests/system/docker/Dockerfile.distroless`,
    "-t",
    OFFLINE_IMAGES.runtime,
    `${REPO_ROOT}tests/system/docker`,
  ]);
  return [
    `DENO_VERSION=${Deno.version.deno}`,
    `BUILD_IMAGE=${OFFLINE_IMAGES.build}`,
    `DENO_BIN_IMAGE=${OFFLINE_IMAGES.denoBin}`,
    `RUNTIME_IMAGE=${OFFLINE_IMAGES.runtime}`,
  ].flatMap((arg) => ["--build-arg", arg]);
}

/** `--add-host` for the npm registry as this machine resolves it (see {@link buildImage}). */
async function pinnedHosts(): Promise<string[]> {
  const result = await runCommand(["getent", "ahostsv4", "registry.npmjs.org"], { cwd: "/" });
  const ip = result.stdout.split(/\s+/)[0];
  return ip ? ["--add-host", `registry.npmjs.org:${ip}`] : [];
}

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** From {@link offlineBaseImages}. */
  baseArgs: string[];
  version: string;
  /** Image repository of the tag (default `outpost-<component>`). */
  repository?: string;
  /** `--target` (default `deno`: the form that needs no denort). */
  target?: string;
}

/**
 * Builds `<component>/Dockerfile` from the repository root as `<repository>:<version>`,
 * returning the tag. The npm registry's address is pinned in the build containers: their own
 * lookups failed now and then under deno's parallel downloads.
 */
export async function buildImage(
  dockerd: Dockerd,
  component: "agent" | "cloud",
  options: BuildImageOptions,
): Promise<string> {
  const tag = `${options.repository ?? `outpost-${component}`}:${options.version}`;
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
  const result = await dockerd.docker([
    "build",
    "--network",
    "host",
    ...await pinnedHosts(),
    ...options.baseArgs,
    "--build-arg",
    `BUILDPLATFORM=linux/${arch}`,
    "--build-arg",
    `TARGETARCH=${arch}`,
    "--build-arg",
    `VERSION=${options.version}`,
    "--target",
    options.target ?? "deno",
    "-f",
    `${component}/Dockerfile`,
    "-t",
    tag,
    ".",
  ]);
  if (result.code !== 0) {
    const lines = result.output.split("\n").filter((line) => !/(Download|Initialize) /.test(line));
    throw new Error(`building ${tag} failed:\n${lines.slice(-40).join("\n")}`);
  }
  return tag;
}

/** `KEY=VALUE` lines of an image's `Config.Env`, as a record. */
export async function imageEnv(dockerd: Dockerd, image: string): Promise<Record<string, string>> {
  const lines: string[] = JSON.parse(
    await dockerd.must(["image", "inspect", "-f", "{{json .Config.Env}}", image]),
  );
  return Object.fromEntries(lines.map((line) => {
    const at = line.indexOf("=");
    return [line.slice(0, at), line.slice(at + 1)];
  }));
}

/** Kubernetes quantities as docker takes them: `160Mi` → bytes, `500m` → CPUs. */
export function memoryBytes(quantity: string): number {
  const match = quantity.match(/^(\d+)(Ki|Mi|Gi|k|M|G)?$/);
  if (!match) throw new Error(`memory quantity '${quantity}' is not modelled here`);
  const unit: Record<string, number> = {
    "": 1,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
  };
  return Number(match[1]) * unit[match[2] ?? ""];
}

/** `500m` → 0.5, `1` → 1. */
export function cpus(quantity: string): number {
  const match = quantity.match(/^(\d+(?:\.\d+)?)(m)?$/);
  if (!match) throw new Error(`cpu quantity '${quantity}' is not modelled here`);
  return Number(match[1]) / (match[2] ? 1000 : 1);
}

/**
 * The `docker run` options that give a container of a rendered pod what the kubelet gives it:
 * user and groups, read-only root, capabilities, privilege escalation, seccomp, resource limits
 * and volume mounts (bind mounts of the sandbox's directories, read-only where the pod's are).
 * Settings this function does not model throw, so a manifest change cannot be silently ignored.
 * The network is the host's (`--network=host`), which is what a `hostNetwork` pod has; for any
 * other pod the sandbox maps its ports to free ones (recorded there).
 */
export function podRunOptions(sandbox: PodSandbox, container: Container): string[] {
  const pod = sandbox.spec.securityContext ?? {};
  const own = container.securityContext ?? {};
  const context = { ...pod, ...own } as SecurityContext & {
    runAsGroup?: number;
    fsGroup?: number;
  };
  const where = `container ${container.name}`;
  const spec = container as Container & { command?: string[]; args?: string[] };
  if (spec.command || spec.args) throw new Error(`${where}: command/args are not modelled here`);
  if (context.privileged) throw new Error(`${where}: privileged is not modelled here`);
  if (context.capabilities?.add?.length) throw new Error(`${where}: capabilities.add`);
  if (context.runAsUser === undefined || context.runAsUser === 0 || context.runAsNonRoot !== true) {
    throw new Error(`${where}: expected a non-root runAsUser with runAsNonRoot`);
  }
  const options = [
    "--network=host",
    `--user=${context.runAsUser}:${context.runAsGroup ?? context.runAsUser}`,
  ];
  // The kubelet adds fsGroup to the process' supplementary groups.
  const fsGroup = (sandbox.spec.securityContext as { fsGroup?: number } | undefined)?.fsGroup;
  if (fsGroup !== undefined) options.push(`--group-add=${fsGroup}`);
  if (context.readOnlyRootFilesystem) options.push("--read-only");
  for (const capability of context.capabilities?.drop ?? []) {
    options.push(`--cap-drop=${capability}`);
  }
  if (context.allowPrivilegeEscalation === false) {
    options.push("--security-opt=no-new-privileges");
  }
  const seccomp = context.seccompProfile?.type;
  if (seccomp !== "RuntimeDefault") throw new Error(`${where}: seccomp ${seccomp} not modelled`);
  // RuntimeDefault: the runtime's default profile, which docker applies unless told otherwise.
  sandbox.record(`${where}: seccompProfile RuntimeDefault -> docker's default seccomp profile`);
  const limits = container.resources?.limits ?? {};
  if (limits.memory) options.push(`--memory=${memoryBytes(limits.memory)}`);
  if (limits.cpu) options.push(`--cpus=${cpus(limits.cpu)}`);
  for (const mount of sandbox.mounts(container)) {
    options.push(
      `--mount=type=bind,src=${mount.dir},dst=${mount.mountPath}${
        mount.readOnly ? ",readonly" : ""
      }`,
    );
  }
  if (!(sandbox.spec as { hostNetwork?: boolean }).hostNetwork) {
    sandbox.record(`${where}: the pod's own network namespace -> the host's (ports mapped)`);
  }
  return options;
}
