/**
 * Helpers for the Ansible system tests: locating the tools (failing with the Debian package to
 * install when one is missing), running `ansible-playbook` with a scratch environment, and reading
 * its PLAY RECAP.
 *
 * @module
 */

/** Absolute path of the repository's `ansible/` directory (the tests run Ansible from there). */
export const ANSIBLE_DIR: string = new URL("../../ansible/", import.meta.url).pathname;

/** What a finished command printed and how it exited. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Standard output followed by standard error. */
  output: string;
}

/** Options for {@link runCommand}. */
export interface RunCommandOptions {
  /** Working directory (default {@link ANSIBLE_DIR}). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Fails with an error naming the Debian package to install when `command` is not on the PATH.
 *
 * @example `await requireCommand("ansible-lint", "ansible-lint")`
 */
export async function requireCommand(command: string, debianPackage: string): Promise<void> {
  const probe = await new Deno.Command("sh", {
    args: ["-c", `command -v "$0"`, command],
    stdout: "null",
    stderr: "null",
  }).output();
  if (probe.code !== 0) {
    throw new Error(
      `Cannot run the test: '${command}' is not on the PATH; install the Debian package ` +
        `'${debianPackage}' (apt-get update && apt-get install -y ${debianPackage})`,
    );
  }
}

/** Runs a command to completion and returns its exit code and output. */
export async function runCommand(
  argv: string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const [command, ...args] = argv;
  const result = await new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ANSIBLE_DIR,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(result.stdout);
  const stderr = decoder.decode(result.stderr);
  return { code: result.code, stdout, stderr, output: stdout + stderr };
}

/**
 * Environment for `ansible-playbook`/`ansible-lint`: the repository's `ansible.cfg`, no colours,
 * and Ansible's temporary files under `scratchDir`.
 */
export function ansibleEnv(scratchDir: string): Record<string, string> {
  return {
    ANSIBLE_CONFIG: `${ANSIBLE_DIR}ansible.cfg`,
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_FORCE_COLOR: "0",
    ANSIBLE_LOCAL_TEMP: `${scratchDir}/ansible-local`,
    ANSIBLE_REMOTE_TEMP: `${scratchDir}/ansible-remote`,
    ANSIBLE_RETRY_FILES_ENABLED: "0",
    NO_COLOR: "1",
  };
}

/** Counters of one host's line in Ansible's PLAY RECAP. */
export interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** Parses the PLAY RECAP line of `host`; throws (quoting the output's tail) when there is none. */
export function parseRecap(output: string, host: string): Recap {
  const pattern = new RegExp(
    `^${host}\\s*:\\s*ok=(\\d+)\\s+changed=(\\d+)\\s+unreachable=(\\d+)\\s+failed=(\\d+)` +
      `\\s+skipped=(\\d+)\\s+rescued=(\\d+)\\s+ignored=(\\d+)`,
    "m",
  );
  const match = output.match(pattern);
  if (!match) {
    throw new Error(`No PLAY RECAP line for '${host}' in the output:\n${output.slice(-3000)}`);
  }
  const [ok, changed, unreachable, failed, skipped, rescued, ignored] = match.slice(1).map(Number);
  return { ok, changed, unreachable, failed, skipped, rescued, ignored };
}

/** The compile target (`dist/outpost-agent-<target>`) of the machine running the tests. */
export function hostTarget(): string {
  return `${Deno.build.arch}-unknown-linux-gnu`;
}

// --- Debian roots for the chroot tests -----------------------------------------------------------

/** Absolute path of the repository root. */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;

/** Where built root images are cached between runs (git-ignored). */
export const ROOT_IMAGE_CACHE_DIR: string = `${REPO_ROOT}.data/chroot`;

/** A Debian (or Ubuntu) archive entry of the host's apt sources. */
export interface AptSource {
  /** Archive URL, e.g. `http://deb.debian.org/debian`. */
  mirror: string;
  /** Suite (codename), e.g. `bookworm`. */
  suite: string;
  /** `Signed-By` keyring file, when the entry names one. */
  keyring?: string;
  /** File the entry came from. */
  file: string;
}

/** One apt source file: its path and text. */
export interface AptSourceFile {
  path: string;
  text: string;
}

interface AptEntry {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
  enabled: boolean;
}

function parseOneLineEntries(text: string): AptEntry[] {
  const entries: AptEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    let options = "";
    const rest = line.replace(/\[([^\]]*)\]/, (_all, inner: string) => {
      options = inner;
      return "";
    });
    const [type, uri, suite, ...components] = rest.trim().split(/\s+/);
    if (!type || !uri || !suite) continue;
    const signedBy = options.match(/(?:^|\s)signed-by=(\S+)/)?.[1];
    entries.push({
      types: [type],
      uris: [uri],
      suites: [suite],
      components,
      signedBy,
      enabled: true,
    });
  }
  return entries;
}

function parseDeb822Entries(text: string): AptEntry[] {
  const entries: AptEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#")) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)}\n${raw.trim()}`);
        continue;
      }
      const match = raw.match(/^([\w-]+):\s*(.*)$/);
      if (match) {
        last = match[1].toLowerCase();
        fields.set(last, match[2].trim());
      }
    }
    if (!fields.has("uris")) continue;
    const list = (name: string) => (fields.get(name) ?? "").split(/\s+/).filter(Boolean);
    const signedBy = fields.get("signed-by");
    entries.push({
      types: list("types"),
      uris: list("uris"),
      suites: list("suites"),
      components: list("components"),
      // An inline key block starts with a line break; only a file path is useful to debootstrap.
      signedBy: signedBy && !signedBy.includes("\n") ? signedBy : undefined,
      enabled: (fields.get("enabled") ?? "yes").toLowerCase() !== "no",
    });
  }
  return entries;
}

/**
 * Picks the archive that serves `codename` (binary packages, component `main`) from apt source
 * files (`*.list` one-line style, `*.sources` deb822 style). Files with other endings are ignored,
 * as apt ignores them.
 */
export function findAptSource(files: AptSourceFile[], codename: string): AptSource | undefined {
  for (const file of files) {
    const entries = file.path.endsWith(".sources")
      ? parseDeb822Entries(file.text)
      : file.path.endsWith(".list")
      ? parseOneLineEntries(file.text)
      : [];
    for (const entry of entries) {
      if (!entry.enabled || !entry.types.includes("deb")) continue;
      if (!entry.suites.includes(codename) || !entry.components.includes("main")) continue;
      const mirror = entry.uris.find((uri) => /^https?:\/\//.test(uri));
      if (!mirror) continue;
      return {
        mirror: mirror.replace(/\/+$/, ""),
        suite: codename,
        keyring: entry.signedBy,
        file: file.path,
      };
    }
  }
  return undefined;
}

/** Reads `/etc/os-release` and `/etc/apt/sources.list*` and returns the host's own archive. */
export async function hostAptSource(): Promise<AptSource> {
  const osRelease = await Deno.readTextFile("/etc/os-release");
  const codename = osRelease.match(/^VERSION_CODENAME="?([\w-]+)"?$/m)?.[1];
  if (!codename) {
    throw new Error("Cannot build a Debian root: /etc/os-release has no VERSION_CODENAME");
  }
  const files: AptSourceFile[] = [];
  const read = async (path: string) => {
    try {
      files.push({ path, text: await Deno.readTextFile(path) });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  await read("/etc/apt/sources.list");
  try {
    const names: string[] = [];
    for await (const entry of Deno.readDir("/etc/apt/sources.list.d")) names.push(entry.name);
    for (const name of names.sort()) await read(`/etc/apt/sources.list.d/${name}`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const source = findAptSource(files, codename);
  if (!source) {
    throw new Error(
      `Cannot build a Debian root: no enabled 'deb' entry for suite '${codename}' with component ` +
        `'main' in /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}; the test ` +
        `bootstraps from the same mirror apt uses`,
    );
  }
  return source;
}

/** Mount points at or below `dir` (from /proc/self/mounts), deepest first. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const base = dir.replace(/\/+$/, "");
  const text = await Deno.readTextFile("/proc/self/mounts");
  const points = text.split("\n").filter(Boolean).map((line) =>
    line.split(" ")[1].replace(
      /\\([0-7]{3})/g,
      (_all, octal) => String.fromCharCode(parseInt(octal, 8)),
    )
  );
  return points.filter((point) => point === base || point.startsWith(`${base}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts everything mounted at or below `dir` and then deletes it. Refuses to delete (throws)
 * while anything is still mounted there, so a bind mount of /dev or /proc is never recursed into.
 */
export async function removeTree(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const points = await mountsBelow(dir);
    if (points.length === 0) break;
    for (const point of points) {
      await runCommand(["umount", "--lazy", point], { cwd: "/" });
    }
  }
  const left = await mountsBelow(dir);
  if (left.length > 0) {
    throw new Error(`Not removing ${dir}: still mounted there: ${left.join(", ")}`);
  }
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Options of {@link ensureRootImage}. */
export interface RootImageOptions {
  /** Extra packages for `debootstrap --include` (default python3, for Ansible's modules). */
  include?: string[];
  /** Progress output (default console.log). */
  log?: (line: string) => void;
  /** Give up on debootstrap after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** Archive to bootstrap from (default {@link hostAptSource}, the mirror apt uses). */
  source?: AptSource;
  /** Directory of the cached images (default {@link ROOT_IMAGE_CACHE_DIR}). */
  cacheDir?: string;
}

/** Paths that a test root does not need; removed before the image is packed to keep it small. */
const PRUNED_PATHS = [
  "var/cache/apt/archives",
  "var/cache/apt/pkgcache.bin",
  "var/cache/apt/srcpkgcache.bin",
  "var/lib/apt/lists",
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
];

async function pruneRoot(root: string): Promise<void> {
  for (const path of PRUNED_PATHS) {
    const full = `${root}/${path}`;
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(full);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    if (!info.isDirectory) {
      await Deno.remove(full);
      continue;
    }
    // Keep the directories themselves (and apt's partial/ and lock) so the root stays usable.
    for await (const entry of Deno.readDir(full)) {
      if (entry.name === "partial" || entry.name === "lock") continue;
      await Deno.remove(`${full}/${entry.name}`, { recursive: true });
    }
  }
}

async function treeSize(path: string): Promise<string> {
  const result = await runCommand(["du", "-sh", path], { cwd: "/" });
  return result.stdout.split(/\s/)[0] ?? "?";
}

/** Removes build directories a killed run left behind (older than an hour, nothing mounted). */
async function removeStaleBuilds(cacheDir: string): Promise<void> {
  for await (const entry of Deno.readDir(cacheDir)) {
    if (!entry.name.startsWith("build-")) continue;
    const path = `${cacheDir}/${entry.name}`;
    const info = await Deno.lstat(path);
    if (info.mtime && Date.now() - info.mtime.getTime() > 3_600_000) {
      await removeTree(path).catch(() => {});
    }
  }
}

/** Runs debootstrap, printing one line per phase, and returns its exit code and full log. */
async function runDebootstrap(
  args: string[],
  log: (line: string) => void,
  timeoutMs: number,
): Promise<{ code: number; log: string; timedOut: boolean }> {
  const child = new Deno.Command("debootstrap", {
    args,
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGTERM");
  }, timeoutMs);
  const lines: string[] = [];
  const verbs = new Set<string>();
  const started = Date.now();
  let lastPrinted = started;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    // TextDecoder, not TextDecoderStream: see tests/support/process.ts (DOM typings).
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      buffer += decoder.decode(bytes, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        // "I: Retrieving libc6 ..." repeats per package: print the first line of each kind,
        // every warning or error, and otherwise one line every 10 seconds.
        const verb = line.match(/^I: (\S+)/)?.[1];
        const now = Date.now();
        if (!verb || !verbs.has(verb) || now - lastPrinted >= 10_000) {
          const seconds = ((now - started) / 1000).toFixed(0).padStart(3);
          log(`  [debootstrap ${seconds}s] ${line}`);
          lastPrinted = now;
        }
        if (verb) verbs.add(verb);
      }
    }
    if (buffer) lines.push(buffer);
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  clearTimeout(timer);
  return { code: status.code, log: lines.join("\n"), timedOut };
}

/**
 * Returns a zstd-compressed tarball of a minimal Debian root for `chroot` (debootstrap
 * `--variant=minbase` of the host's own suite and architecture from the mirror apt is configured
 * with, plus python3 for Ansible), building and caching it under `.data/chroot/` when missing.
 * Needs root and the Debian packages debootstrap and zstd; throws naming what is missing or what
 * could not be reached.
 */
export async function ensureRootImage(options: RootImageOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => console.log(line));
  const include = options.include ?? ["python3"];
  const source = options.source ?? await hostAptSource();
  const cacheDir = options.cacheDir ?? ROOT_IMAGE_CACHE_DIR;
  const arch = await runCommand(["dpkg", "--print-architecture"], { cwd: "/" });
  if (arch.code !== 0) throw new Error(`dpkg --print-architecture failed: ${arch.output}`);
  const debArch = arch.stdout.trim();
  const name = `${source.suite}-${debArch}-minbase-${include.join("+")}.tar.zst`;
  const image = `${cacheDir}/${name}`;
  try {
    await Deno.stat(image);
    return image;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }

  await Deno.mkdir(cacheDir, { recursive: true });
  await removeStaleBuilds(cacheDir);
  const build = await Deno.makeTempDir({ dir: cacheDir, prefix: "build-" });
  const started = Date.now();
  try {
    const root = `${build}/root`;
    const args = [
      "--variant=minbase",
      `--include=${include.join(",")}`,
      `--arch=${debArch}`,
      ...(source.keyring ? [`--keyring=${source.keyring}`] : []),
      source.suite,
      root,
      source.mirror,
    ];
    log(
      `Building ${image} (cached for later runs): debootstrap ${args.join(" ")} ` +
        `(mirror from ${source.file}; about a minute)`,
    );
    const result = await runDebootstrap(args, log, options.timeoutMs ?? 600_000);
    if (result.code !== 0) {
      throw new Error(
        `debootstrap could not build a ${source.suite}/${debArch} root from ${source.mirror} ` +
          `(the mirror of ${source.file})` +
          (result.timedOut ? ", it timed out" : `, exit code ${result.code}`) +
          `. The test needs that mirror reachable (or an image already cached at ${image}). ` +
          `debootstrap's output ends with:\n${result.log.slice(-3000)}`,
      );
    }
    const leftMounts = await mountsBelow(root);
    if (leftMounts.length > 0) throw new Error(`debootstrap left mounts: ${leftMounts.join(", ")}`);
    await pruneRoot(root);
    log(`  packing ${await treeSize(root)} into ${name} ...`);
    const partial = `${build}/${name}`;
    const packed = await runCommand(
      ["tar", "--numeric-owner", "-I", "zstd -T0 -3 -q", "-cf", partial, "-C", root, "."],
      { cwd: "/" },
    );
    if (packed.code !== 0) throw new Error(`packing the root failed: ${packed.output}`);
    await Deno.rename(partial, image);
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    log(`  built ${image} (${await treeSize(image)}) in ${seconds}s`);
    return image;
  } finally {
    await removeTree(build);
  }
}

/** Unpacks a root image from {@link ensureRootImage} into `dir` (created; must not exist). */
export async function unpackRootImage(image: string, dir: string): Promise<void> {
  await Deno.mkdir(dir);
  const result = await runCommand(
    ["tar", "--numeric-owner", "--same-owner", "-I", "zstd", "-xpf", image, "-C", dir],
    { cwd: "/" },
  );
  if (result.code !== 0) throw new Error(`unpacking ${image} failed: ${result.output}`);
}
