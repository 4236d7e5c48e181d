/**
 * `deno task promote`: production runs exactly the images staging ran. Copies the `images:`
 * entries (tag, and digest when there is one) of edge-staging's apps overlay into
 * edge-production's, as staging's image automation left them in Git (or as they were at a given
 * commit, `--ref`, e.g. the revision staging's Flux reports as applied). The result is a commit
 * for a person to review and push; production has no image automation of its own.
 *
 * Usage: deno task promote [--ref <git ref>] [--check] [--from edge-staging] [--to edge-production]
 * @module
 */
import { fileURLToPath } from "node:url";
import { cliHelp, tryParseCli } from "../support/cli.ts";

/** One entry of a kustomization's `images:` list. */
export interface ImagePin {
  name: string;
  newTag?: string;
  digest?: string;
}

const ENTRY = /^(\s*)- name: (\S+)\s*$/;
const FIELD = /^(\s+)(newTag|digest): ("[^"]*"|\S+)(.*)$/;

/** The line range of the top-level `images:` block (the lines after `images:`). */
function imagesBlock(lines: string[]): { start: number; end: number } {
  const at = lines.findIndex((line) => /^images:\s*$/.test(line));
  if (at < 0) throw new Error("no top-level images: list");
  let end = at + 1;
  while (end < lines.length && (lines[end] === "" || /^[\s#-]/.test(lines[end]))) end++;
  return { start: at + 1, end };
}

/** The `images:` entries of a kustomization file (name, newTag, digest; comments ignored). */
export function readImages(text: string): ImagePin[] {
  const lines = text.split("\n");
  const { start, end } = imagesBlock(lines);
  const pins: ImagePin[] = [];
  for (const line of lines.slice(start, end)) {
    const entry = line.match(ENTRY);
    if (entry) {
      pins.push({ name: entry[2] });
      continue;
    }
    const field = line.match(FIELD);
    if (field && pins.length) {
      pins[pins.length - 1][field[2] as "newTag" | "digest"] = field[3].replace(/^"|"$/g, "");
    }
  }
  return pins;
}

/** What {@link applyImages} did. */
export interface Promotion {
  text: string;
  /** One line per changed image: `name: old -> new`. */
  changes: string[];
}

function describe(pin: ImagePin | undefined): string {
  if (!pin) return "(none)";
  return `${pin.newTag ?? "(no tag)"}${pin.digest ? `@${pin.digest}` : ""}`;
}

/**
 * Writes `pins` into the `images:` entries of `text`: each entry's tag and digest become the
 * pin's exactly (a setter marker comment goes: nothing but a promotion writes these lines).
 * @throws Error when the two lists do not name the same images.
 */
export function applyImages(text: string, pins: ImagePin[], note: string): Promotion {
  const lines = text.split("\n");
  const { start, end } = imagesBlock(lines);
  const current = readImages(text);
  const names = (list: ImagePin[]) => list.map((pin) => pin.name).sort().join(", ");
  if (names(current) !== names(pins)) {
    throw new Error(`the overlays name different images: ${names(pins)} vs ${names(current)}`);
  }
  const output = lines.slice(0, start);
  const changes: string[] = [];
  let i = start;
  while (i < end) {
    const entry = lines[i].match(ENTRY);
    if (!entry) {
      output.push(lines[i++]);
      continue;
    }
    const pin = pins.find((candidate) => candidate.name === entry[2])!;
    const before = current.find((candidate) => candidate.name === entry[2]);
    output.push(lines[i++]);
    // The entry's own lines: drop its tag and digest, keep anything else (newName).
    const indent = `${entry[1]}  `;
    while (i < end && !ENTRY.test(lines[i]) && (lines[i].startsWith(indent) || lines[i] === "")) {
      if (!FIELD.test(lines[i])) output.push(lines[i]);
      i++;
    }
    if (pin.newTag) output.push(`${indent}newTag: ${pin.newTag} # ${note}`);
    if (pin.digest) output.push(`${indent}digest: ${pin.digest}`);
    if (describe(before) !== describe(pin)) {
      changes.push(`${pin.name}: ${describe(before)} -> ${describe(pin)}`);
    }
  }
  output.push(...lines.slice(end));
  return { text: output.join("\n"), changes };
}

/** The apps overlay of an environment, relative to the repository root. */
export function overlayFile(environment: string): string {
  return `k8s/overlays/${environment}/apps/kustomization.yaml`;
}

async function readAt(root: string, path: string, ref: string | undefined): Promise<string> {
  if (!ref) return await Deno.readTextFile(`${root}/${path}`);
  const shown = await new Deno.Command("git", {
    args: ["show", `${ref}:${path}`],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!shown.success) {
    throw new Error(`git show ${ref}:${path}: ${new TextDecoder().decode(shown.stderr).trim()}`);
  }
  return new TextDecoder().decode(shown.stdout);
}

/** The flags of `deno task promote`. */
const PROMOTE_CLI = {
  command: "deno task promote",
  summary: "Production runs exactly the images staging ran: copies the images: entries (tag and " +
    "digest) of k8s/overlays/<from>/apps/kustomization.yaml into k8s/overlays/<to>/apps/" +
    "kustomization.yaml, for a person to review and commit.",
  options: {
    ref: {
      type: "string",
      value: "commit",
      help: "Read <from> at this commit (e.g. the revision staging's Flux applied).",
    },
    check: {
      type: "boolean",
      help: "Change nothing; exit 1 when <to> does not run what <from> runs.",
    },
    from: { type: "string", default: "edge-staging", value: "env", help: "Where to copy from." },
    to: { type: "string", default: "edge-production", value: "env", help: "Where to copy to." },
    root: {
      type: "string",
      default: fileURLToPath(new URL("../../", import.meta.url)),
      value: "dir",
      help: "The repository root.",
    },
  },
} as const;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = tryParseCli(PROMOTE_CLI, args);
  if ("help" in parsed) {
    console.log(cliHelp(PROMOTE_CLI));
    return 0;
  }
  if ("error" in parsed) {
    console.error(parsed.error);
    return 2;
  }
  const values = parsed.values;
  const root = values.root.replace(/\/$/, "");
  try {
    const source = readImages(await readAt(root, overlayFile(values.from), values.ref));
    for (const pin of source) {
      if (!pin.newTag && !pin.digest) throw new Error(`${values.from} pins no tag for ${pin.name}`);
    }
    const target = `${root}/${overlayFile(values.to)}`;
    const note = `promoted from ${values.from}${values.ref ? ` at ${values.ref}` : ""}`;
    const promotion = applyImages(await Deno.readTextFile(target), source, note);
    if (promotion.changes.length === 0) {
      console.log(`[promote] ${values.to} already runs what ${values.from} runs`);
      return 0;
    }
    console.log(`[promote] ${values.from} -> ${values.to}:`);
    for (const change of promotion.changes) console.log(`  ${change}`);
    if (values.check) return 1;
    await Deno.writeTextFile(target, promotion.text);
    const what = source.map((pin) => `${pin.name.split("/").at(-1)} ${describe(pin)}`).join(", ");
    console.log(
      `[promote] wrote ${overlayFile(values.to)}; review and commit it, e.g.\n` +
        `  git commit -m "${values.to}: promote ${what} from ${values.from}" ${
          overlayFile(values.to)
        }`,
    );
    return 0;
  } catch (error) {
    console.error(`Cannot promote ${values.from} to ${values.to}: ${(error as Error).message}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
