/**
 * HTTP load from `wrk` (Debian package), the benchmarks' generator: a C event loop in its own
 * process, so the server's throughput is measured rather than the generator's (a Deno `fetch`
 * loop saturated at a third of what the agent can serve, compressing every ratio toward 1).
 *
 * Requests with a body go through a Lua script written to a temp file.
 * @module
 */

/** What one wrk run measured. */
export interface WrkResult {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
}

/** Options of {@link runWrk}. */
export interface WrkOptions {
  /** Default 32. */
  connections?: number;
  /** Default 1: one generator thread on one of the two cores, the server on the other. */
  threads?: number;
  /** Default 5. */
  durationSeconds?: number;
  method?: "GET" | "POST";
  body?: string;
  headers?: Record<string, string>;
}

/** Thrown when wrk is not installed, with what to install. */
export class WrkMissingError extends Error {
  constructor() {
    super("wrk is not installed: apt-get install wrk (the benchmarks' HTTP load generator)");
    this.name = "WrkMissingError";
  }
}

/** Runs wrk against `url` and parses its report. */
export async function runWrk(url: string, options: WrkOptions = {}): Promise<WrkResult> {
  const args = [
    `-t${options.threads ?? 1}`,
    `-c${options.connections ?? 32}`,
    `-d${options.durationSeconds ?? 5}s`,
    "--latency",
  ];
  let script: string | undefined;
  if (options.method || options.body !== undefined || options.headers) {
    script = await Deno.makeTempFile({ prefix: "outpost-wrk-", suffix: ".lua" });
    await Deno.writeTextFile(script, wrkScript(options));
    args.push("-s", script);
  }
  try {
    const output = await new Deno.Command("wrk", { args: [...args, url], stdout: "piped" })
      .output()
      .catch((error) => {
        if (error instanceof Deno.errors.NotFound) throw new WrkMissingError();
        throw error;
      });
    const text = new TextDecoder().decode(output.stdout);
    if (!output.success) throw new Error(`wrk ${args.join(" ")} ${url} failed:\n${text}`);
    return parseWrkReport(text);
  } finally {
    if (script) await Deno.remove(script);
  }
}

/** The Lua script that sets method, headers and body of every request. */
export function wrkScript(options: Pick<WrkOptions, "method" | "body" | "headers">): string {
  const lines = [`wrk.method = ${JSON.stringify(options.method ?? "GET")}`];
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  }
  // A JSON string literal is a valid Lua string literal for the ASCII bodies we send.
  if (options.body !== undefined) lines.push(`wrk.body = ${JSON.stringify(options.body)}`);
  return lines.join("\n") + "\n";
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read the duration '${text}'`);
  return Number(match[1]) * UNIT_MS[match[2]];
}

/** Parses wrk's text report (with `--latency`). */
export function parseWrkReport(text: string): WrkResult {
  const requests = /(\d+) requests in/.exec(text);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s+50%\s+(\S+)/m.exec(text);
  const p99 = /^\s+99%\s+(\S+)/m.exec(text);
  if (!requests || !rate || !p50 || !p99) {
    throw new Error(`wrk: cannot read its report:\n${text.slice(0, 1000)}`);
  }
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requests: Number(requests[1]),
    perSecond: Number(rate[1]),
    p50Ms: durationMs(p50[1]),
    p99Ms: durationMs(p99[1]),
    errors: Number(non2xx?.[1] ?? 0) + socketErrors,
  };
}
