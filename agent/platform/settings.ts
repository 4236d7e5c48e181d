/**
 * Reading settings from flags and environment variables: flags override env, every setting
 * has a default, and a bad value fails with one line naming the setting, the value and what
 * is allowed. `--help` text is generated from the same specs, so it cannot drift from them.
 * @module
 */
import { parseArgs } from "node:util";

/** A setting that cannot be used; its message is the one line to print. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Converts a raw string into a value or throws with what is allowed. */
export type Parser<T> = (raw: string) => T;

/** One setting: its flag, its environment variable, its default and its parser. */
export interface SettingSpec<T> {
  flag: string;
  env: string;
  parse: Parser<T>;
  /** Used when neither flag nor env is given; may be computed. */
  fallback: T | (() => T);
  /** Secrets are never echoed in error messages. */
  secret?: boolean;
  /** One sentence for `--help`: what the setting does. */
  help: string;
  /** Names the value in `--help` (`--port <port>`); default `value`. */
  value?: string;
  /** The default as `--help` shows it, when `fallback` is computed or unset. */
  defaultText?: string;
}

/** A map of setting names to specs. */
export type SettingSpecs = Record<string, SettingSpec<unknown>>;

/** The values a {@link SettingSpecs} produces. */
export type SettingValues<S extends SettingSpecs> = {
  [K in keyof S]: S[K] extends SettingSpec<infer T> ? T : never;
};

/** Thrown by parsers: the reason, completed by {@link readSettings} with name and value. */
export class InvalidValue extends Error {}

/**
 * Reads every setting of `specs` from `args` (flags) and `env`.
 * @throws ConfigError naming the first bad setting.
 */
export function readSettings<S extends SettingSpecs>(
  component: string,
  specs: S,
  source: { args: string[]; env: Record<string, string | undefined> },
): SettingValues<S> {
  const options: Record<string, { type: "string" }> = {};
  for (const spec of Object.values(specs)) options[spec.flag] = { type: "string" };
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({ args: source.args, options, strict: true, allowPositionals: false })
      .values as Record<string, string | undefined>;
  } catch (error) {
    const known = Object.values(specs).map((spec) => `--${spec.flag}`).join(", ");
    throw new ConfigError(
      `Cannot start ${component}: ${
        (error as Error).message.split(". ")[0]
      }; known flags: ${known} (--help explains them)`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const fromFlag = flags[spec.flag];
    const raw = fromFlag ?? source.env[spec.env];
    const label = fromFlag !== undefined ? `--${spec.flag}` : spec.env;
    if (raw === undefined || raw === "") {
      values[name] = typeof spec.fallback === "function"
        ? (spec.fallback as () => unknown)()
        : spec.fallback;
      continue;
    }
    try {
      values[name] = spec.parse(raw);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      const shown = spec.secret ? "[redacted]" : `'${raw}'`;
      throw new ConfigError(
        `Cannot start ${component}: ${label} ${error.message}: current value is ${shown}`,
      );
    }
  }
  return values as SettingValues<S>;
}

/**
 * The `<NAME>_FILE` convention for secrets (as container images mount them): for each of
 * `names`, a set `<NAME>_FILE` is read (trailing newline dropped) into `<NAME>`. Returns a new
 * environment.
 * @throws ConfigError when both are set, or the file cannot be read.
 */
export function readSecretFiles(
  component: string,
  env: Record<string, string | undefined>,
  names: readonly string[],
  readFile: (path: string) => string = Deno.readTextFileSync,
): Record<string, string | undefined> {
  const out = { ...env };
  for (const name of names) {
    const path = env[`${name}_FILE`];
    if (!path) continue;
    if (env[name]) {
      throw new ConfigError(
        `Cannot start ${component}: ${name} and ${name}_FILE are both set: set only one (${name}_FILE is '${path}')`,
      );
    }
    try {
      out[name] = readFile(path).replace(/\r?\n$/, "");
    } catch (error) {
      throw new ConfigError(
        `Cannot start ${component}: ${name}_FILE must name a readable file: current value is '${path}' (${
          (error as Error).message
        })`,
      );
    }
  }
  return out;
}

/** True when `args` ask for help (`--help` or `-h`) rather than a run. */
export function wantsHelp(args: readonly string[]): boolean {
  // Only before a `--`, which ends the flags.
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

/** One line of a `--help` text. */
export interface HelpEntry {
  /** Without the dashes. */
  flag: string;
  /** Names the value (`<port>`); absent for a switch. */
  value?: string;
  env?: string;
  description: string;
  /** The default as shown. */
  defaultText?: string;
}

/** What a `--help` text says besides its entries. */
export interface HelpText {
  /** The first line: what the command is. */
  summary: string;
  /** How to run it, e.g. `deno task agent [flags]`. */
  usage: string;
  entries: HelpEntry[];
  /** Paragraphs after the entries. */
  notes?: readonly string[];
}

/** Formats a `--help` text: usage, then one entry per flag with its variable and default. */
export function formatHelp(text: HelpText): string {
  const lines = [...wrap(text.summary, 98), "", `Usage: ${text.usage}`, "", "Options:"];
  const entries = [...text.entries, { flag: "help", description: "Print this help and exit." }];
  for (const entry of entries) {
    const flag = `--${entry.flag}${entry.value ? ` <${entry.value}>` : ""}`;
    lines.push(`  ${entry.env ? `${flag.padEnd(32)} ${entry.env}` : flag}`);
    const shown = entry.defaultText === undefined ? "" : ` Default: ${entry.defaultText}.`;
    lines.push(...wrap(`${entry.description}${shown}`, 92).map((line) => `      ${line}`));
  }
  for (const note of text.notes ?? []) lines.push("", ...wrap(note, 98));
  return lines.join("\n");
}

/** The `--help` text of a component, generated from its setting specs. */
export function settingsHelp(
  specs: SettingSpecs,
  text: Omit<HelpText, "entries">,
): string {
  const entries = Object.values(specs).map((spec): HelpEntry => ({
    flag: spec.flag,
    value: spec.value ?? "value",
    env: spec.env,
    description: spec.help,
    defaultText: spec.defaultText ??
      (typeof spec.fallback === "function" || spec.fallback === undefined
        ? "unset"
        : String(spec.fallback)),
  }));
  return formatHelp({
    ...text,
    entries,
    notes: [
      "Every option is also an environment variable; a flag wins over its variable. A bad " +
      "value stops the start with one line naming the setting, its value and what is allowed.",
      ...(text.notes ?? []),
    ],
  });
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** A TCP port 1–65535 (0 is allowed when `allowZero`, meaning "any free port"). */
export function portParser(allowZero = false): Parser<number> {
  return (raw) => {
    const port = Number(raw);
    const min = allowZero ? 0 : 1;
    if (!/^\d+$/.test(raw) || port < min || port > 65535) {
      throw new InvalidValue(`must be a port number (${min}-65535)`);
    }
    return port;
  };
}

/** An integer within bounds. */
export function intParser(min: number, max: number): Parser<number> {
  return (raw) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      throw new InvalidValue(`must be a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

/** One of a fixed list of words. */
export function enumParser<T extends string>(allowed: readonly T[]): Parser<T> {
  return (raw) => {
    if (!allowed.includes(raw as T)) throw new InvalidValue(`must be one of ${allowed.join(", ")}`);
    return raw as T;
  };
}

/** A URL whose scheme is one of `protocols` (e.g. `["http:", "https:"]`). */
export function urlParser(protocols: string[]): Parser<string> {
  return (raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new InvalidValue(`must be a URL (${protocols.join(" or ")})`);
    }
    if (!protocols.includes(url.protocol)) {
      throw new InvalidValue(`must be a URL with scheme ${protocols.join(" or ")}`);
    }
    return raw.replace(/\/+$/, "");
  };
}

/**
 * A comma-separated list of URLs with one of `protocols` (spaces around commas are allowed),
 * in order, trailing slashes removed. An empty item, a bad URL or a repeated one (after that
 * normalisation) is refused, naming it and its position.
 */
export function urlListParser(protocols: string[]): Parser<string[]> {
  const one = urlParser(protocols);
  const what = `a comma-separated list of URLs (${protocols.join(" or ")})`;
  return (raw) => {
    const items = raw.split(",").map((item) => item.trim());
    const urls: string[] = [];
    for (const [i, item] of items.entries()) {
      const position = `item ${i + 1} of ${items.length}`;
      if (item === "") throw new InvalidValue(`must be ${what}: ${position} is empty`);
      let url: string;
      try {
        url = one(item);
      } catch (error) {
        throw new InvalidValue(
          `must be ${what}: ${position}, '${item}', ${(error as Error).message}`,
        );
      }
      if (urls.includes(url)) {
        throw new InvalidValue(`must be ${what}: ${position}, '${item}', is listed twice`);
      }
      urls.push(url);
    }
    return urls;
  };
}

/** A non-empty string without whitespace or control characters. */
export function wordParser(what: string, pattern = /^[\x21-\x7e]{1,512}$/): Parser<string> {
  return (raw) => {
    if (!pattern.test(raw)) throw new InvalidValue(`must be ${what}`);
    return raw;
  };
}

/** A path; only checks that it is non-empty and has no NUL. */
export function pathParser(): Parser<string> {
  return (raw) => {
    if (raw.includes("\0")) throw new InvalidValue("must be a file system path");
    return raw;
  };
}

/** `true` or `false` (also `1`/`0`, `yes`/`no`). */
export function booleanParser(): Parser<boolean> {
  return (raw) => {
    const value = raw.toLowerCase();
    if (["true", "1", "yes"].includes(value)) return true;
    if (["false", "0", "no"].includes(value)) return false;
    throw new InvalidValue("must be true or false");
  };
}

/**
 * `name=path,name2=path2`: named files (e.g. the certificates whose expiry `/metrics` reports).
 * Names are metric label values: letters, digits, `_`, `.` and `-`.
 */
export function namedPathsParser(): Parser<Record<string, string>> {
  return (raw) => {
    const out: Record<string, string> = {};
    for (const item of raw.split(",").map((part) => part.trim()).filter(Boolean)) {
      const at = item.indexOf("=");
      const name = item.slice(0, at);
      const path = item.slice(at + 1);
      if (at <= 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(name) || !path || path.includes("\0")) {
        throw new InvalidValue("must be name=path pairs separated by commas");
      }
      out[name] = path;
    }
    return out;
  };
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration such as `90s`, `15m`, `24h` or `3650d`, in ms; `off` (or `0`) gives undefined,
 * meaning "no limit".
 */
export function durationParser(): Parser<number | undefined> {
  return (raw) => {
    const value = raw.trim().toLowerCase();
    if (value === "off" || value === "0") return undefined;
    const match = /^(\d{1,9})([smhd])$/.exec(value);
    if (!match) {
      throw new InvalidValue(
        "must be a duration with a unit (s, m, h or d), e.g. 24h or 3650d, or off",
      );
    }
    return Number(match[1]) * DURATION_UNITS[match[2]];
  };
}
