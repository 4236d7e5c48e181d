/**
 * `deno task compile`: single binaries `dist/outpost-agent-<target>` (and the cloud's) for
 * x86_64 and aarch64 Linux, with migrations (static imports), web assets and the right native
 * libSQL addon for each target embedded, and the version stamped from git.
 *
 * `deno compile` copies a local node_modules as it is, so each target is built from a staging
 * copy whose node_modules holds that target's addon (fetched from the npm registry and checked
 * against deno.lock's integrity; no `npm` needed) and not the host's.
 * `denort` for each target comes from `DENORT_BIN` or Deno's cache; this script says so plainly
 * when neither is there (these development machines cannot download it).
 *
 * The version is `OUTPOST_VERSION` when set (the Dockerfiles pass their `VERSION` build argument:
 * the build context has no .git), else `git describe`. denort is downloaded into Deno's cache
 * when it is not there (`--fetch-denort` only does that; the Dockerfiles run it in a layer of its
 * own so that a source change does not download it again).
 *
 * Usage: deno task compile [--target x86_64-unknown-linux-gnu] [--component agent|cloud]
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { COMPONENT_PERMISSIONS, COMPONENT_RUNTIME_FLAGS } from "@outpost/platform/runtime_flags";
import { stampVersion, versionModule } from "./stamp_version.ts";

/** Targets and the npm package holding their libSQL addon. */
export const TARGETS: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "@libsql/linux-x64-gnu",
  "aarch64-unknown-linux-gnu": "@libsql/linux-arm64-gnu",
};
const LIBSQL_VERSION = "0.5.29";
const ENTRYPOINTS = { agent: "agent/main.ts", cloud: "cloud/main.ts" } as const;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STAGED = ["agent", "cloud", "web", "deno.json", "deno.lock"];
/** Workspace members the binaries do not contain, staged as their deno.json only. */
const STAGED_MANIFESTS = ["tests/deno.json"];

async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const output = await new Deno.Command(cmd, { args, ...options, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.trim()}`);
  return text.trim();
}

/**
 * The version to stamp: `OUTPOST_VERSION` when set (an image build has no .git in its context),
 * else `git describe` of `root`, else `0.0.0-unknown`.
 */
export async function releaseVersion(
  env: { get(name: string): string | undefined } = Deno.env,
  root: string = ROOT,
): Promise<string> {
  const given = env.get("OUTPOST_VERSION");
  if (given) return given;
  try {
    return await run("git", ["describe", "--tags", "--always", "--dirty"], { cwd: root });
  } catch {
    return "0.0.0-unknown";
  }
}

/** Where `deno compile` finds denort for `target` offline, or why it cannot. */
export async function denortSource(target: string): Promise<{ ok: boolean; detail: string }> {
  const fromEnv = Deno.env.get("DENORT_BIN");
  if (fromEnv) return { ok: true, detail: `DENORT_BIN=${fromEnv}` };
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json"]));
  const version = Deno.version.deno;
  const cached = join(info.denoDir, "dl", "release", `v${version}`, `denort-${target}.zip`);
  try {
    await Deno.stat(cached);
    return { ok: true, detail: `cached ${cached}` };
  } catch {
    return {
      ok: false,
      detail:
        `no denort for ${target}: set DENORT_BIN to a denort ${version} binary for that target, ` +
        `or place denort-${target}.zip at ${cached}, or run with access to dl.deno.land`,
    };
  }
}

/**
 * Downloads the npm tarball of `spec` (`name@version`) to `file` and checks it against the
 * integrity deno.lock records for it (the lock holds every platform's optional package).
 */
export async function fetchLocked(root: string, spec: string, file: string): Promise<void> {
  const lock = JSON.parse(await Deno.readTextFile(join(root, "deno.lock")));
  const integrity: string | undefined = lock.npm?.[spec]?.integrity;
  if (!integrity?.startsWith("sha512-")) throw new Error(`deno.lock has no sha512 for ${spec}`);
  const at = spec.lastIndexOf("@");
  const [name, version] = [spec.slice(0, at), spec.slice(at + 1)];
  const registry = (Deno.env.get("NPM_CONFIG_REGISTRY") ?? "https://registry.npmjs.org/")
    .replace(/\/?$/, "/");
  const url = `${registry}${name}/-/${name.split("/").at(-1)}-${version}.tgz`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  const body = new Uint8Array(await response.arrayBuffer());
  const digest = "sha512-" + createHash("sha512").update(body).digest("base64");
  if (digest !== integrity) {
    throw new Error(`${url}: integrity ${digest}, deno.lock says ${integrity}`);
  }
  await Deno.writeFile(file, body);
}

/** Where `deno compile` looks for the denort of `target` in Deno's cache. */
async function denortCachePath(target: string): Promise<string> {
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json"]));
  return join(info.denoDir, "dl", "release", `v${Deno.version.deno}`, `denort-${target}.zip`);
}

/**
 * Downloads denort for `target` into Deno's cache, where `deno compile` finds it. The base URL is
 * `OUTPOST_DENORT_BASE_URL` (a mirror) or https://dl.deno.land.
 */
export async function fetchDenort(target: string): Promise<string> {
  const path = await denortCachePath(target);
  try {
    await Deno.stat(path);
    return path;
  } catch {
    // not cached yet
  }
  const base = (Deno.env.get("OUTPOST_DENORT_BASE_URL") ?? "https://dl.deno.land")
    .replace(/\/$/, "");
  const url = `${base}/release/v${Deno.version.deno}/denort-${target}.zip`;
  const response = await fetch(url).catch((error) => {
    const cause = (error as Error).cause as Error | undefined;
    throw new Error(`GET ${url}: ${cause?.message ?? (error as Error).message}`);
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: ${response.status}`);
  }
  await Deno.mkdir(join(path, ".."), { recursive: true });
  const partial = `${path}.partial`;
  await Deno.writeFile(partial, new Uint8Array(await response.arrayBuffer()));
  await Deno.rename(partial, path);
  return path;
}

export async function stage(target: string, version: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `outpost-compile-${target}-` });
  for (const entry of STAGED) await run("cp", ["-a", join(ROOT, entry), dir]);
  for (const manifest of STAGED_MANIFESTS) {
    await Deno.mkdir(join(dir, manifest, ".."), { recursive: true });
    await Deno.copyFile(join(ROOT, manifest), join(dir, manifest));
  }
  await stampVersion(dir, version);
  await run(Deno.execPath(), ["install", "--frozen"], { cwd: dir });
  // Swap the host's libSQL addons for the target's.
  const libsqlDeps = join(
    dir,
    "node_modules",
    ".deno",
    `libsql@${LIBSQL_VERSION}`,
    "node_modules",
    "@libsql",
  );
  for await (const entry of Deno.readDir(libsqlDeps)) {
    await Deno.remove(join(libsqlDeps, entry.name), { recursive: true });
  }
  const pkg = TARGETS[target];
  const tarball = join(dir, "addon.tgz");
  await fetchLocked(dir, `${pkg}@${LIBSQL_VERSION}`, tarball);
  const into = join(libsqlDeps, pkg.split("/")[1]);
  await Deno.mkdir(into, { recursive: true });
  await run("tar", ["-xzf", tarball, "-C", into, "--strip-components=1"]);
  await Deno.remove(tarball);
  return dir;
}

/** The `deno compile` arguments of one component for one target. */
export function compileArgs(
  component: keyof typeof ENTRYPOINTS,
  target: string,
  output: string,
): string[] {
  return [
    "compile",
    ...COMPONENT_PERMISSIONS,
    ...COMPONENT_RUNTIME_FLAGS[component],
    "--target",
    target,
    "--include",
    "web/static",
    // Imported by a computed specifier (see tracing_loader.ts), so not found by the graph.
    "--include",
    "agent/platform/tracing.ts",
    "--output",
    output,
    ENTRYPOINTS[component],
  ];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      target: { type: "string", multiple: true },
      component: { type: "string", multiple: true },
      "fetch-denort": { type: "boolean", default: false },
    },
  });
  const targets = values.target?.length ? values.target : Object.keys(TARGETS);
  const components =
    (values.component?.length
      ? values.component
      : ["agent", "cloud"]) as (keyof typeof ENTRYPOINTS)[];
  for (const target of targets) {
    if (!TARGETS[target]) {
      console.error(
        `Cannot compile: unknown --target '${target}'; known: ${Object.keys(TARGETS).join(", ")}`,
      );
      return 2;
    }
  }
  for (const component of components) {
    if (!ENTRYPOINTS[component]) {
      console.error(`Cannot compile: unknown --component '${component}'; known: agent, cloud`);
      return 2;
    }
  }
  if (values["fetch-denort"]) {
    for (const target of targets) {
      try {
        console.error(`[compile] denort for ${target}: ${await fetchDenort(target)}`);
      } catch (error) {
        console.error(`[compile] denort for ${target}: ${(error as Error).message}`);
        return 1;
      }
    }
    return 0;
  }
  // The UI's hashed assets must exist before they can be embedded.
  await run(Deno.execPath(), ["task", "--quiet", "build:web"], { cwd: ROOT });
  const version = await releaseVersion();
  try {
    versionModule(version);
  } catch (error) {
    console.error(`Cannot compile: ${(error as Error).message} (OUTPOST_VERSION or git describe)`);
    return 2;
  }
  await Deno.mkdir(join(ROOT, "dist"), { recursive: true });
  let failed = 0;
  for (const target of targets) {
    let denort = await denortSource(target);
    if (!denort.ok) {
      // Not cached: try to download it (works wherever dl.deno.land is reachable).
      const missing = denort.detail;
      denort = await fetchDenort(target).then(
        (path) => ({ ok: true, detail: `downloaded ${path}` }),
        (error) => ({ ok: false, detail: `${missing} (${(error as Error).message})` }),
      );
    }
    if (!denort.ok) {
      console.error(`[compile] ${target}: cannot build: ${denort.detail}`);
      failed++;
      continue;
    }
    console.error(`[compile] ${target}: staging with ${TARGETS[target]} (${denort.detail})`);
    const dir = await stage(target, version);
    try {
      for (const component of components) {
        const output = join(ROOT, "dist", `outpost-${component}-${target}`);
        const started = performance.now();
        await run(Deno.execPath(), compileArgs(component, target, output), { cwd: dir });
        const size = (await Deno.stat(output)).size;
        console.error(
          `[compile] ${output} (${(size / 1e6).toFixed(1)} MB, ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s, version ${version})`,
        );
      }
    } catch (error) {
      console.error(`[compile] ${target}: ${(error as Error).message}`);
      failed++;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
