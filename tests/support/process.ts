/**
 * Running Outpost components as real processes in tests: free ports, start through
 * `deno task`, wait for readiness, signal the whole process group, collect logs.
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A component started with `deno task <name>`. */
export interface RunningProcess {
  pid: number;
  /** Lines written to stderr and stdout so far. */
  output: string[];
  /** Sends a signal to the whole process group (the task runner and the component). */
  signal(signal: Deno.Signal): void;
  /** Resolves with the exit status. */
  status: Promise<Deno.CommandStatus>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once exited. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Options of {@link startTask}. */
export interface StartTaskOptions {
  env?: Record<string, string>;
  args?: string[];
  /**
   * A command that runs `deno task …` for us and then execs it, e.g.
   * `["ip", "netns", "exec", "ns1"]` to start the component inside a network namespace.
   * It must exec (not fork), so the pid and process group stay the component's.
   */
  prefix?: string[];
}

/** Starts `deno task <task>` in its own process group with `env`. */
export function startTask(task: string, options: StartTaskOptions = {}): RunningProcess {
  const taskArgs = ["task", "--quiet", task, ...(options.args ?? [])];
  const [program, ...prefixArgs] = options.prefix ?? [];
  return spawnProcess(
    program ?? Deno.execPath(),
    program ? [...prefixArgs, Deno.execPath(), ...taskArgs] : taskArgs,
    { cwd: REPO_ROOT, env: { NO_COLOR: "1", ...options.env } },
  );
}

/** Starts any program in its own process group, collecting its output lines. */
export function spawnProcess(
  program: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): RunningProcess {
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    detached: true,
  }).spawn();
  const output: string[] = [];
  const outputClosed = Promise.all([
    collectLines(child.stdout, output),
    collectLines(child.stderr, output),
  ]).catch(() => {});
  // Resolve only once the output is read too, so a caller sees the last lines of a process
  // that exited at once (the output pipes can close after the exit status arrives).
  const status = child.status.then(async (result) => {
    await outputClosed;
    return result;
  });
  const signal = (sig: Deno.Signal) => {
    try {
      Deno.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  return {
    pid: child.pid,
    output,
    signal,
    status,
    async stop(graceMs = 5000) {
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      const result = await status;
      clearTimeout(timer);
      return result;
    },
  };
}

export async function collectLines(stream: ReadableStream<Uint8Array>, into: string[]) {
  let buffered = "";
  // A TextDecoder rather than pipeThrough(TextDecoderStream): the DOM typings that Preact pulls
  // into a whole-repo `deno check` type TextDecoderStream's writable side incompatibly.
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    into.push(...lines);
  }
  buffered += decoder.decode();
  if (buffered) into.push(buffered);
}

/** Polls `url` until it answers 200 or `timeoutMs` passes. */
export async function waitForOk(
  url: string,
  timeoutMs = 30_000,
  process?: RunningProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const logs = process ? `\n--- output ---\n${process.output.slice(-30).join("\n")}` : "";
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})${logs}`);
}

/** POSTs JSON and returns the parsed response with its status. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}
