/**
 * HTTP benchmarks that measure the server, not the load generator. Each row has three
 * measurements from the same `wrk` settings in the same run:
 *
 * - **ceiling**: wrk against nginx (one worker) answering the same bytes — the most this
 *   generator gets out of one core on this machine;
 * - **baseline**: a bare `Deno.serve` answering the same bytes and content type
 *   (tests/bench/bare_server.ts) or, for ingest, inserting the same rows with nothing around it
 *   (tests/bench/raw_ingest_server.ts);
 * - **subject**: the agent.
 *
 * The ratio subject/baseline is printed only when the subject ran below half the ceiling;
 * above that the generator, not the server, may be what was measured.
 * @module
 */
import { join } from "node:path";
import { requireTool } from "../manifests/kube.ts";
import { freePort, REPO_ROOT, type RunningProcess, spawnProcess } from "../support/process.ts";
import { runWrk, type WrkOptions, type WrkResult } from "./wrk.ts";

/** A server started for a benchmark. */
export interface BenchServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The three measurements of one HTTP row and what they allow to conclude. */
export interface HttpComparison {
  ceiling: WrkResult;
  baseline: WrkResult;
  subject: WrkResult;
  /** subject / baseline throughput, or undefined when refused. */
  ratio?: number;
  /** Why no ratio is printed. */
  refused?: string;
}

/** Largest share of the generator's ceiling at which a ratio is still about the server. */
export const MAX_SHARE_OF_CEILING = 0.5;

async function waitListening(process: RunningProcess, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!process.output.some((line) => line.includes("listening"))) {
    if (Date.now() > deadline) {
      throw new Error(`${what} did not start:\n${process.output.slice(-20).join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts the bare `Deno.serve` baseline answering `body` with `contentType`. */
export async function startBareServer(
  body: Uint8Array,
  contentType: string,
): Promise<BenchServer> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-bare-" });
  const file = join(dir, "body");
  await Deno.writeFile(file, body);
  const port = freePort();
  const process = spawnProcess(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    join(REPO_ROOT, "tests/bench/bare_server.ts"),
    String(port),
    file,
    contentType,
  ]);
  await waitListening(process, "the bare Deno.serve baseline");
  return {
    url: `http://127.0.0.1:${port}/`,
    pid: process.pid,
    async stop() {
      await process.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Starts the raw-insert ingest baseline on a fresh libSQL file. */
export async function startRawIngestServer(): Promise<BenchServer> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-raw-ingest-" });
  const port = freePort();
  const process = spawnProcess(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-ffi",
    "--allow-env",
    "--allow-sys",
    join(REPO_ROOT, "tests/bench/raw_ingest_server.ts"),
    String(port),
    join(dir, "raw.db"),
  ], { cwd: REPO_ROOT });
  await waitListening(process, "the raw ingest baseline");
  return {
    url: `http://127.0.0.1:${port}/`,
    pid: process.pid,
    async stop() {
      await process.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Starts nginx (one worker, no access log) answering every GET with `body` as a static file
 * and every POST with 201 and `postAnswer`: the generator's ceiling for that traffic.
 */
export async function startNginxCeiling(
  body: Uint8Array,
  contentType: string,
  postAnswer = '{"accepted":0}',
): Promise<BenchServer> {
  const nginx = requireTool("nginx", "nginx");
  const prefix = await Deno.makeTempDir({ prefix: "outpost-ceiling-" });
  // Started as root, nginx runs its worker as "nobody": it must read the prefix.
  await Deno.chmod(prefix, 0o755);
  await Deno.writeFile(join(prefix, "body"), body);
  await Deno.chmod(join(prefix, "body"), 0o644);
  const port = freePort();
  await Deno.writeTextFile(
    join(prefix, "nginx.conf"),
    `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp;
  proxy_temp_path ${prefix}/tmp;
  fastcgi_temp_path ${prefix}/tmp;
  uwsgi_temp_path ${prefix}/tmp;
  scgi_temp_path ${prefix}/tmp;
  open_file_cache max=4;
  client_max_body_size 16m;
  client_body_buffer_size 16m;
  server {
    listen 127.0.0.1:${port};
    location / {
      if ($request_method = POST) { return 201 '${postAnswer}'; }
      default_type ${contentType};
      root ${prefix};
      try_files /body =404;
    }
  }
}
`,
  );
  const process = spawnProcess(nginx, [
    "-p",
    `${prefix}/`,
    "-c",
    `${prefix}/nginx.conf`,
    "-e",
    "stderr",
  ]);
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await (await fetch(url)).body?.cancel();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(
          `nginx (the ceiling) did not start: ${error}\n${process.output.join("\n")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    pid: process.pid,
    async stop() {
      await process.stop();
      await Deno.remove(prefix, { recursive: true });
    },
  };
}

/** Measures ceiling, baseline and subject with the same wrk options, in that order. */
export async function compareHttp(
  urls: { ceiling: string; baseline: string; subject: string },
  options: WrkOptions,
): Promise<HttpComparison> {
  const ceiling = await runWrk(urls.ceiling, options);
  const baseline = await runWrk(urls.baseline, options);
  const subject = await runWrk(urls.subject, options);
  return judge(ceiling, baseline, subject);
}

/** Decides whether the ratio may be printed. */
export function judge(ceiling: WrkResult, baseline: WrkResult, subject: WrkResult): HttpComparison {
  const comparison: HttpComparison = { ceiling, baseline, subject };
  if (subject.errors > 0 || baseline.errors > 0 || ceiling.errors > 0) {
    comparison.refused =
      `errors during the run (subject ${subject.errors}, baseline ${baseline.errors}, ceiling ${ceiling.errors})`;
  } else if (subject.perSecond > MAX_SHARE_OF_CEILING * ceiling.perSecond) {
    comparison.refused = `subject at ${
      (subject.perSecond / ceiling.perSecond).toFixed(2)
    } of the generator's ceiling (> ${MAX_SHARE_OF_CEILING}): generator-bound, no ratio`;
  } else {
    comparison.ratio = subject.perSecond / baseline.perSecond;
  }
  return comparison;
}
