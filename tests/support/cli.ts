/**
 * Flags of the task scripts (`deno task dev`, `sim`, `bench`): one table per script gives the
 * parser and the `--help` text (in the components' format, `formatHelp`), so the two cannot
 * drift. `--help` prints it and exits 0; a bad flag exits 2 with one line naming it.
 * @module
 */
import { parseArgs } from "node:util";
import { formatHelp, wantsHelp } from "@outpost/platform/settings";

/** One flag of a task script. */
export interface CliOption {
  type: "string" | "boolean";
  /** Shown in `--help` and used when the flag is absent. */
  default?: string | boolean;
  /** Names the value in `--help` (`--devices <n>`); strings only. */
  value?: string;
  /** One sentence for `--help`. */
  help: string;
  /** An environment variable the script reads instead of the flag, when it has one. */
  env?: string;
}

/** What a script's `--help` says and which flags it takes. */
export interface CliSpec<O extends Record<string, CliOption>> {
  /** The command, as a user types it (`deno task sim`). */
  command: string;
  summary: string;
  options: O;
  /** Paragraphs after the options. */
  notes?: readonly string[];
}

/** Values of a {@link CliSpec}: strings and booleans, the defaults filled in. */
export type CliValues<O extends Record<string, CliOption>> = {
  [K in keyof O]: O[K]["type"] extends "boolean" ? boolean
    : O[K]["default"] extends string ? string
    : string | undefined;
};

/** The `--help` text of `spec`. */
export function cliHelp(spec: CliSpec<Record<string, CliOption>>): string {
  return formatHelp({
    summary: spec.summary,
    usage: `${spec.command} [options]`,
    entries: Object.entries(spec.options).map(([flag, option]) => ({
      flag,
      value: option.type === "string" ? option.value ?? "value" : undefined,
      env: option.env,
      description: option.help,
      defaultText: option.default === undefined || option.default === false
        ? undefined
        : String(option.default),
    })),
    notes: spec.notes,
  });
}

/** Why `args` cannot be parsed, or the values. */
export function tryParseCli<O extends Record<string, CliOption>>(
  spec: CliSpec<O>,
  args: string[],
): { help: true } | { error: string } | { values: CliValues<O> } {
  if (wantsHelp(args)) return { help: true };
  const options: Record<string, { type: "string" | "boolean"; default?: string | boolean }> = {};
  for (const [flag, option] of Object.entries(spec.options)) {
    options[flag] = { type: option.type, default: option.default };
  }
  try {
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
    return { values: values as CliValues<O> };
  } catch (error) {
    // node:util's messages go on with advice about positionals; the first sentence names it.
    const reason = (error as Error).message.split(". ")[0];
    return { error: `${spec.command}: ${reason} (--help lists the options)` };
  }
}

/** Parses `Deno.args`: prints the help and exits 0, or one line and exits 2, or the values. */
export function parseCli<O extends Record<string, CliOption>>(
  spec: CliSpec<O>,
  args: string[] = Deno.args,
): CliValues<O> {
  const result = tryParseCli(spec, args);
  if ("help" in result) {
    console.log(cliHelp(spec));
    Deno.exit(0);
  }
  if ("error" in result) {
    console.error(result.error);
    Deno.exit(2);
  }
  return result.values;
}

/** Exits 2 with one line when `check` fails: for values the parser cannot check. */
export function requireValid(spec: { command: string }, ok: boolean, message: string): void {
  if (ok) return;
  console.error(`${spec.command}: ${message} (--help lists the options)`);
  Deno.exit(2);
}
