/**
 * The programs behind the images of the rendered pods, started on this machine from a
 * {@link PodSandbox}:
 * - `ghcr.io/example-org/outpost-{agent,cloud}`: the image's binary is `deno compile` of
 *   `{agent,cloud}/main.ts`, which cannot be built here, so the program runs with `deno run`
 *   and the permissions of the `agent`/`cloud` task in deno.json, except that `--allow-write`
 *   is narrowed to the container's writable mounts: the program can write nowhere else, which
 *   is what a read-only root filesystem means to it;
 * - `nginxinc/nginx-unprivileged`: the `nginx` of this machine, with the container's command.
 * @module
 */
import { COMPONENT_RUNTIME_FLAGS } from "@outpost/platform/runtime_flags";
import { agentSettings } from "@outpost/agent/config";
import { CLOUD_SECRET_FILES, cloudSettings } from "@outpost/cloud/config";
import { execForm, finalStage, parseDockerfile, stageEnv } from "./dockerfile.ts";
import { type Container, REPO_ROOT, requireTool, runCommand } from "./kube.ts";
import { ContainerProcess, expandKubeVars, type PodSandbox } from "./pod.ts";

/** An Outpost program and the image it is built into. */
export interface OutpostProgram {
  component: "agent" | "cloud";
  /** Image repository (without tag). */
  repository: string;
  dockerfile: string;
  /** Every environment variable the program reads as a setting. */
  settings: string[];
  /** The port setting's default when OUTPOST_PORT is not set. */
  defaultPort: number;
  /** The listen address' default when OUTPOST_HOST is not set. */
  defaultHost: string;
}

/** The two Outpost programs by image repository. */
export const OUTPOST_PROGRAMS: Record<string, OutpostProgram> = {
  "ghcr.io/example-org/outpost-agent": {
    component: "agent",
    repository: "ghcr.io/example-org/outpost-agent",
    dockerfile: "agent/Dockerfile",
    settings: Object.values(agentSettings).map((setting) => setting.env),
    defaultPort: agentSettings.port.fallback,
    defaultHost: agentSettings.host.fallback,
  },
  "ghcr.io/example-org/outpost-cloud": {
    component: "cloud",
    repository: "ghcr.io/example-org/outpost-cloud",
    dockerfile: "cloud/Dockerfile",
    settings: [
      ...Object.values(cloudSettings).map((setting) => setting.env),
      // Secrets the cloud also reads from a file named by `<NAME>_FILE`.
      ...CLOUD_SECRET_FILES.map((name) => `${name}_FILE`),
    ],
    defaultPort: cloudSettings.port.fallback,
    defaultHost: cloudSettings.host.fallback,
  },
};

/**
 * Variables the programs do not read as settings but the runtime does: `TMPDIR` is where a
 * `deno compile` binary extracts its native addons (libSQL, about 10 MB: `deno-native-addons/`)
 * and keeps its V8 code cache, so on a read-only root filesystem it must name a writable mount.
 */
export const RUNTIME_VARIABLES = ["TMPDIR"];

/** The Outpost program of a container image, or undefined for other images. */
export function outpostProgram(image: string | undefined): OutpostProgram | undefined {
  return OUTPOST_PROGRAMS[repositoryOf(image ?? "")];
}

/** `registry/path` of an image reference, without tag or digest. */
export function repositoryOf(image: string): string {
  const withoutDigest = image.split("@")[0];
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  return colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** What the runtime image gives a container: `ENV`, `ENTRYPOINT`, `CMD`. */
export interface ImageConfig {
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

/** Reads the runtime stage of a program's Dockerfile. */
export async function imageConfig(program: OutpostProgram): Promise<ImageConfig> {
  const stage = finalStage(
    parseDockerfile(await Deno.readTextFile(`${REPO_ROOT}${program.dockerfile}`)),
  );
  return {
    env: stageEnv(stage),
    entrypoint: execForm(stage, "ENTRYPOINT") ?? [],
    cmd: execForm(stage, "CMD") ?? [],
  };
}

/** The argv a container runs: `command` replaces ENTRYPOINT, `args` replaces CMD. */
export function containerArgv(container: Container, image: ImageConfig): string[] {
  const spec = container as Container & { command?: string[]; args?: string[] };
  const command = spec.command ?? image.entrypoint;
  const args = spec.args ?? (spec.command ? [] : image.cmd);
  return [...command, ...args];
}

/**
 * The `deno run` flags and script of a deno.json task (`deno run <flags> <script>`): `flags`
 * are the permissions, `runtimeFlags` the others, which must be the ones `deno task compile`
 * embeds in that component's binary (`COMPONENT_RUNTIME_FLAGS`), so running the task stands
 * for running the image's binary.
 */
export async function denoTask(
  task: string,
): Promise<{ flags: string[]; runtimeFlags: string[]; script: string }> {
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}deno.json`));
  const text: string | undefined = config.tasks?.[task];
  if (!text) throw new Error(`deno.json has no task '${task}'`);
  const tokens = text.trim().split(/\s+/);
  if (tokens[0] !== "deno" || tokens[1] !== "run" || tokens.length < 3) {
    throw new Error(`task '${task}' is not 'deno run <flags> <script>': ${text}`);
  }
  const all = tokens.slice(2, -1);
  const flags = all.filter((flag) => flag.startsWith("--allow-"));
  const runtimeFlags = all.filter((flag) => !flag.startsWith("--allow-"));
  const compiled: readonly string[] | undefined =
    COMPONENT_RUNTIME_FLAGS[task as keyof typeof COMPONENT_RUNTIME_FLAGS];
  if (JSON.stringify(runtimeFlags) !== JSON.stringify(compiled ?? [])) {
    throw new Error(
      `task '${task}' has flags this test does not model: ${runtimeFlags} ` +
        `(deno task compile embeds ${compiled ?? []})`,
    );
  }
  return { flags, runtimeFlags, script: tokens[tokens.length - 1] };
}

let denoDir: Promise<string> | undefined;

/** The DENO_DIR of this test run (module and npm cache of `deno run`). */
function currentDenoDir(): Promise<string> {
  denoDir ??= (async () => {
    const fromEnv = Deno.env.get("DENO_DIR");
    if (fromEnv) return fromEnv;
    const info = await runCommand(Deno.execPath(), ["info", "--json"]);
    if (info.code !== 0) throw new Error(`deno info --json failed: ${info.stderr}`);
    return JSON.parse(info.stdout).denoDir as string;
  })();
  return denoDir;
}

/** Options of {@link startOutpostContainer}. */
export interface StartOutpostOptions {
  /**
   * Variables whose URL names a server that is not part of the test (a Service of the
   * cluster, a public endpoint): replaced by a URL of the same scheme on a loopback port where
   * nothing listens, so the program runs offline and the test stays hermetic.
   */
  unreachable?: string[];
}

/** A started Outpost container. */
export interface StartedOutpost {
  process: ContainerProcess;
  /** The environment the program was started with (after the recorded substitutions). */
  env: Record<string, string>;
  /** The environment as the manifests give it (before any substitution). */
  renderedEnv: Record<string, string>;
  /** The pod port it listens on and the address it binds. */
  listen: { podPort: number; host: string };
  /** Its writable mounts on this machine. */
  writableDirs: string[];
}

/**
 * Starts the agent or cloud container of a sandboxed pod with `deno run`.
 * @throws Error when the container is not an Outpost image or its command is not the image's.
 */
export async function startOutpostContainer(
  sandbox: PodSandbox,
  container: Container,
  options: StartOutpostOptions = {},
): Promise<StartedOutpost> {
  const program = outpostProgram(container.image);
  if (!program) throw new Error(`container ${container.name}: ${container.image} is not Outpost`);
  const image = await imageConfig(program);
  const { env: renderedEnv } = sandbox.env(container, image.env);
  const argv = containerArgv(container, image).map((arg) => expandKubeVars(arg, renderedEnv));
  if (argv[0] !== image.entrypoint[0]) {
    throw new Error(
      `container ${container.name} runs ${argv[0]}, not the image's ${image.entrypoint[0]}`,
    );
  }
  const env = { ...renderedEnv };
  const where = `container ${container.name}`;

  // Paths inside the container's mounts live under the sandbox.
  for (const [name, value] of Object.entries(env)) {
    if (!value.startsWith("/")) continue;
    const host = sandbox.hostPath(container, value);
    if (host !== undefined) {
      env[name] = host;
      sandbox.record(`${where}: ${name}=${value} -> ${host} (a mount of the container)`);
    }
  }
  // The pod's network namespace: its port becomes a free port here.
  const podPort = Number(renderedEnv.OUTPOST_PORT ?? program.defaultPort);
  env.OUTPOST_PORT = String(sandbox.hostPort(podPort));
  sandbox.record(`${where}: OUTPOST_PORT=${podPort} -> ${env.OUTPOST_PORT}`);
  for (const name of options.unreachable ?? []) {
    const value = env[name];
    if (value === undefined) continue;
    // A list of servers (comma-separated, NATS and MQTT with failover): each one replaced.
    env[name] = value.split(",").map((each) => {
      const url = new URL(each);
      url.hostname = "127.0.0.1";
      url.port = String(sandbox.closedPort());
      return url.href.replace(/\/$/, "");
    }).join(",");
    sandbox.record(
      `${where}: ${name}=${value} -> ${env[name]} (not part of this test; nothing listens)`,
    );
  }

  const writableDirs = sandbox.writableDirs(container);
  const task = await denoTask(program.component);
  const flags = task.flags.flatMap((flag) => {
    if (flag !== "--allow-write") return [flag];
    return writableDirs.length ? [`--allow-write=${writableDirs.join(",")}`] : [];
  });
  if (!task.flags.includes("--allow-write")) {
    throw new Error(`task '${program.component}' lost --allow-write; update this test`);
  }
  sandbox.record(
    `${where}: ${argv[0]} -> deno run ${
      [...flags, ...task.runtimeFlags].join(" ")
    } ${task.script} ` +
      `(the image's binary is deno compile of it; writes only to the writable mounts)`,
  );
  // The working directory is read-only, like the image's.
  const workdir = `${sandbox.root}/workdir-${container.name}`;
  await Deno.mkdir(workdir);
  const runner = { DENO_DIR: await currentDenoDir(), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
  sandbox.record(
    `${where}: + DENO_DIR, DENO_NO_UPDATE_CHECK, NO_COLOR for deno run only ` +
      `(a compiled binary reads none of them; NO_COLOR keeps failure output readable)`,
  );
  const process = new ContainerProcess(container.name, Deno.execPath(), {
    args: [
      "run",
      ...flags,
      ...task.runtimeFlags,
      "--config",
      `${REPO_ROOT}deno.json`,
      `${REPO_ROOT}${task.script}`,
      ...argv.slice(1),
    ],
    env: { ...env, ...runner },
    clearEnv: true,
    cwd: workdir,
  });
  return {
    process,
    env,
    renderedEnv,
    listen: { podPort, host: renderedEnv.OUTPOST_HOST ?? program.defaultHost },
    writableDirs,
  };
}

/** Options of {@link prepareNginx}. */
export interface PrepareNginxOptions {
  /**
   * Where a Service named in an `upstream` server points on this machine (`host:port`), by
   * `name:port`; a Service missing here gets a loopback port where nothing listens.
   */
  services?: Record<string, string>;
}

/** An nginx container ready to start (or to test with `nginx -t`). */
export interface PreparedNginx {
  nginx: string;
  /** The container's argv with mount paths mapped (without the program name). */
  args: string[];
  /** The config file on this machine. */
  config: string;
  /** `setpriv` arguments to run as the container's user, when this test runs as root. */
  asUser: string[];
}

/**
 * Prepares the nginx container of a sandboxed pod: maps the paths of its command to the
 * sandbox, and rewrites its config files (in the ConfigMap mount) so that mount paths, the pod's
 * ports (`listen`, upstream servers on 127.0.0.1) and Service names become addresses on this
 * machine. Every rewrite is recorded in the sandbox.
 */
export async function prepareNginx(
  sandbox: PodSandbox,
  container: Container,
  options: PrepareNginxOptions = {},
): Promise<PreparedNginx> {
  const spec = container as Container & { command?: string[]; args?: string[] };
  if (!spec.command?.length) {
    throw new Error(`container ${container.name}: nginx without a command is not modelled`);
  }
  const { env } = sandbox.env(container);
  const argv = [...spec.command, ...(spec.args ?? [])].map((arg) => expandKubeVars(arg, env));
  if (argv[0] !== "nginx") throw new Error(`container ${container.name} runs ${argv[0]}`);
  const where = `container ${container.name}`;
  const args = argv.slice(1).map((arg) => {
    if (!arg.startsWith("/")) return arg;
    const host = sandbox.hostPath(container, arg.replace(/\/$/, ""));
    if (host === undefined) return arg;
    const mapped = arg.endsWith("/") ? `${host}/` : host;
    sandbox.record(`${where}: argument ${arg} -> ${mapped}`);
    return mapped;
  });
  const configIndex = args.indexOf("-c");
  if (configIndex < 0) throw new Error(`${where}: no -c <config> in its command`);
  const config = args[configIndex + 1];
  // Every file of the ConfigMap mount holding the config (nginx.conf and what it includes).
  const configDir = config.slice(0, config.lastIndexOf("/"));
  for await (const entry of Deno.readDir(configDir)) {
    if (!entry.isFile) continue;
    const file = `${configDir}/${entry.name}`;
    const original = await Deno.readTextFile(file);
    const rewritten = rewriteNginxConfig(sandbox, container, original, {
      where: `${where} ${entry.name}`,
      services: options.services ?? {},
    });
    if (rewritten !== original) await Deno.writeTextFile(file, rewritten);
  }
  const context = { ...sandbox.spec.securityContext, ...container.securityContext } as {
    runAsUser?: number;
    runAsGroup?: number;
  };
  let asUser: string[] = [];
  if (Deno.uid() === 0 && context.runAsUser !== undefined) {
    const group = context.runAsGroup ?? context.runAsUser;
    asUser = [`--reuid=${context.runAsUser}`, `--regid=${group}`, "--clear-groups", "--"];
    sandbox.record(`${where}: runs as uid ${context.runAsUser} gid ${group} (setpriv), not root`);
  } else if (context.runAsUser !== undefined && context.runAsUser !== Deno.uid()) {
    sandbox.record(`${where}: runs as this test's uid ${Deno.uid()}, not ${context.runAsUser}`);
  }
  return { nginx: requireTool("nginx", "nginx"), args, config, asUser };
}

/** Rewrites mount paths, `listen` ports and upstream servers of one nginx config file. */
function rewriteNginxConfig(
  sandbox: PodSandbox,
  container: Container,
  text: string,
  options: { where: string; services: Record<string, string> },
): string {
  let result = sandbox.rewriteMountPaths(container, text, options.where);
  result = result.replace(
    /^(\s*listen\s+)(\S+?)((?:\s+[a-z_]+)*;)/gm,
    (_match, before: string, address: string, after: string) => {
      if (!/^\d+$/.test(address)) {
        throw new Error(`${options.where}: listen ${address} is not modelled (a port only)`);
      }
      const port = sandbox.hostPort(Number(address));
      sandbox.record(`${options.where}: listen ${address} -> listen ${port}`);
      return `${before}${port}${after}`;
    },
  );
  result = result.replace(
    /^(\s*server\s+)([^\s:;]+):(\d+)(?=[\s;])/gm,
    (_match, before: string, host: string, port: string) => {
      let target: string;
      if (host === "127.0.0.1" || host === "localhost") {
        // The same pod: its network namespace.
        target = `127.0.0.1:${sandbox.hostPort(Number(port))}`;
      } else {
        target = options.services[`${host}:${port}`] ?? `127.0.0.1:${sandbox.closedPort()}`;
      }
      sandbox.record(`${options.where}: upstream server ${host}:${port} -> ${target}`);
      return `${before}${target}`;
    },
  );
  return result;
}

/** Starts a prepared nginx as the container's user (when this test runs as root). */
export function startNginx(container: Container, prepared: PreparedNginx): ContainerProcess {
  if (prepared.asUser.length) {
    return new ContainerProcess(container.name, requireTool("setpriv", "util-linux"), {
      args: [...prepared.asUser, prepared.nginx, ...prepared.args],
      discardStdout: true,
    });
  }
  return new ContainerProcess(container.name, prepared.nginx, {
    args: prepared.args,
    discardStdout: true,
  });
}
