/**
 * Reading Dockerfiles without Docker: instructions, the final (runtime) stage, and what the
 * runtime image gives a container (`ENV`, `ENTRYPOINT`, `CMD`).
 * @module
 */

/** One instruction of a Dockerfile. */
export interface Instruction {
  keyword: string;
  args: string;
}

/** Parses a Dockerfile into instructions, joining continuation lines and dropping comments. */
export function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = "";
  }
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
  });
}

/** The instructions after the last FROM: what the runtime image is made of. */
export function finalStage(instructions: Instruction[]): Instruction[] {
  const lastFrom = instructions.findLastIndex((instruction) => instruction.keyword === "FROM");
  return instructions.slice(lastFrom);
}

/** Splits `A=1 B="two words"` into pairs (the `ENV key=value ...` form). */
function envPairs(args: string): [string, string][] {
  const pairs: [string, string][] = [];
  const pattern = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const [, name, raw] of args.matchAll(pattern)) {
    const value = raw.startsWith('"')
      ? raw.slice(1, -1).replace(/\\(.)/g, "$1")
      : raw.startsWith("'")
      ? raw.slice(1, -1)
      : raw;
    pairs.push([name, value]);
  }
  return pairs;
}

/** The environment a stage's `ENV` instructions set (later ones win). */
export function stageEnv(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage) {
    if (instruction.keyword !== "ENV") continue;
    if (!instruction.args.includes("=")) {
      // Legacy form: ENV NAME value with spaces
      const [name, ...value] = instruction.args.split(" ");
      env[name] = value.join(" ");
      continue;
    }
    for (const [name, value] of envPairs(instruction.args)) env[name] = value;
  }
  return env;
}

/** An exec-form `ENTRYPOINT` or `CMD` of a stage, or undefined when there is none. */
export function execForm(
  stage: Instruction[],
  keyword: "ENTRYPOINT" | "CMD",
): string[] | undefined {
  const instruction = stage.findLast((candidate) => candidate.keyword === keyword);
  if (!instruction) return undefined;
  const parsed = JSON.parse(instruction.args);
  if (!Array.isArray(parsed)) {
    throw new Error(`${keyword} is not in exec form: ${instruction.args}`);
  }
  return parsed;
}

/** The instructions of the stage named `name` (`FROM ... AS name`), FROM included. */
export function namedStage(instructions: Instruction[], name: string): Instruction[] {
  const start = instructions.findIndex((instruction) =>
    instruction.keyword === "FROM" &&
    new RegExp(`\\sAS\\s+${name}$`, "i").test(instruction.args)
  );
  if (start < 0) throw new Error(`no stage named ${name}`);
  const next = instructions.findIndex((instruction, index) =>
    index > start && instruction.keyword === "FROM"
  );
  return instructions.slice(start, next < 0 ? undefined : next);
}

/** The global `ARG` defaults (before the first FROM), each expanded with the ones before it. */
export function globalArgs(instructions: Instruction[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") break;
    if (instruction.keyword !== "ARG") continue;
    const at = instruction.args.indexOf("=");
    if (at < 0) continue;
    args[instruction.args.slice(0, at)] = expandArgs(instruction.args.slice(at + 1), args);
  }
  return args;
}

/** `${NAME}` and `$NAME` replaced from `args` (unknown names become ""). */
export function expandArgs(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced, bare) => args[braced ?? bare] ?? "");
}
