/**
 * Builds the UI's client assets into `web/static/build/`: one browser bundle per client entry
 * (each console's entry lives with the component that serves it and is named on the command line,
 * so this kit never imports a component)
 * (`deno bundle`, built into Deno, offline once its esbuild is cached) and the stylesheet, each
 * named `<name>.<content hash>.<ext>`, plus `manifest.json` mapping logical names to those files.
 * The manifest is written last, so a half-finished build is never picked up; files of older
 * builds are removed.
 *
 * Run: `deno task build:web`, which is
 * `deno run … web/build.ts --entry agent.js=agent/ui/client.ts --entry fleet.js=cloud/ui/client.ts`
 * (`--out-dir DIR`, `--no-minify`; entry paths relative to the repository root).
 * @module
 */
import { createHash } from "node:crypto";
import { basename, extname, join } from "node:path";
import { parseArgs } from "node:util";

const WEB_DIR = import.meta.dirname!;
const REPO_ROOT = join(WEB_DIR, "..");

/** Where the server looks for the build. */
export const BUILD_DIR: string = join(WEB_DIR, "static", "build");
/** The manifest's file name inside the build dir. */
export const MANIFEST_FILE = "manifest.json";

/** Logical name → source: stylesheets copied as they are. */
export const STYLESHEETS: Record<string, string> = {
  "app.css": join(WEB_DIR, "static", "app.css"),
};

/** Logical asset name → hashed file name in the build dir. */
export type AssetManifest = Record<string, string>;

/** Options of {@link buildClientAssets}. */
export interface BuildOptions {
  /** Logical name (`agent.js`) → client entry module to bundle (absolute or repo-relative). */
  entries: Record<string, string>;
  /** Default {@link BUILD_DIR}. */
  outDir?: string;
  /** Default true. */
  minify?: boolean;
  /** The `deno` executable; default the one running this. */
  denoPath?: string;
}

/** `name.<12 hex digits of SHA-256>.ext` for `content`. */
export function hashedName(logical: string, content: Uint8Array): string {
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 12);
  const ext = extname(logical);
  return `${basename(logical, ext)}.${hash}${ext}`;
}

/** Builds every asset and writes the manifest; returns the manifest. */
export async function buildClientAssets(options: BuildOptions): Promise<AssetManifest> {
  const outDir = options.outDir ?? BUILD_DIR;
  const deno = options.denoPath ?? Deno.execPath();
  await Deno.mkdir(outDir, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: outDir, prefix: ".tmp-" });
  const manifest: AssetManifest = {};
  try {
    for (const [logical, entry] of Object.entries(options.entries)) {
      const bundled = join(temp, logical);
      await bundle(deno, entry, bundled, options.minify ?? true);
      manifest[logical] = await publish(logical, await Deno.readFile(bundled), outDir);
    }
    for (const [logical, source] of Object.entries(STYLESHEETS)) {
      manifest[logical] = await publish(logical, await Deno.readFile(source), outDir);
    }
    const manifestTemp = join(temp, MANIFEST_FILE);
    await Deno.writeTextFile(manifestTemp, JSON.stringify(manifest, null, 2) + "\n");
    await Deno.rename(manifestTemp, join(outDir, MANIFEST_FILE));
  } finally {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
  await removeStale(outDir, new Set([MANIFEST_FILE, ...Object.values(manifest)]));
  return manifest;
}

async function bundle(deno: string, entry: string, output: string, minify: boolean) {
  const args = [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--format",
    "esm",
    ...(minify ? ["--minify"] : []),
    "--output",
    output,
    entry,
  ];
  const result = await new Deno.Command(deno, {
    args,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr).trim();
    throw new Error(
      `Cannot build the UI: '${deno} ${args.join(" ")}' failed with exit code ${result.code}` +
        (stderr ? `:\n${stderr}` : ""),
    );
  }
}

async function publish(logical: string, content: Uint8Array, outDir: string): Promise<string> {
  const name = hashedName(logical, content);
  await Deno.writeFile(join(outDir, name), content);
  return name;
}

async function removeStale(outDir: string, keep: Set<string>) {
  for await (const entry of Deno.readDir(outDir)) {
    if (entry.isFile && !keep.has(entry.name)) await Deno.remove(join(outDir, entry.name));
  }
}

/** `name=path` pairs from repeated `--entry` flags. */
export function parseEntries(values: string[]): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const value of values) {
    const match = /^([\w.-]+\.js)=(.+)$/.exec(value);
    if (!match) {
      throw new Error(
        `Cannot build the UI: --entry must be NAME.js=PATH: current value is '${value}'`,
      );
    }
    entries[match[1]] = join(REPO_ROOT, match[2]);
  }
  return entries;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      entry: { type: "string", multiple: true, default: [] },
      "out-dir": { type: "string" },
      "no-minify": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task build:web [--out-dir DIR] [--no-minify]\n" +
        "Bundles each --entry NAME.js=PATH for the browser and copies the stylesheet into\n" +
        `${BUILD_DIR} with content-hashed names and a manifest.json.`,
    );
    Deno.exit(0);
  }
  const entries = parseEntries(values.entry);
  if (Object.keys(entries).length === 0) {
    throw new Error("Cannot build the UI: no --entry given (use deno task build:web)");
  }
  const started = performance.now();
  const manifest = await buildClientAssets({
    entries,
    outDir: values["out-dir"],
    minify: !values["no-minify"],
  });
  const ms = Math.round(performance.now() - started);
  console.log(`UI assets built in ${ms} ms: ${JSON.stringify(manifest)}`);
}
