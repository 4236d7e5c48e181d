/**
 * `deno run -A tests/bench/burst.ts`: the agent's memory through a burst of writes. Starts the
 * agent as deployed (`deno task agent`, optionally enrolled to a cloud it starts too), posts
 * `--total` readings in batches of `--batch` from `--clients` concurrent clients, and reports the
 * agent's resident memory: idle, peak (`VmHWM` of /proc/<pid>/status, plus the file-backed and
 * anonymous parts sampled every 50 ms), after the burst, after the upload drained (with
 * `--cloud`) and settled. Run it under `flock /tmp/outpost-heavy.lock` on a shared machine.
 * @module
 */
import { freePort, startTask, waitForOk } from "../support/process.ts";
import { parseCli } from "../support/cli.ts";
import { componentPid } from "./sync.ts";

const BURST_CLI = {
  command: "deno run -A tests/bench/burst.ts",
  summary: "The agent's resident memory through a burst of readings from concurrent clients.",
  options: {
    total: { type: "string", default: "200000", value: "n", help: "Readings in all." },
    batch: { type: "string", default: "10000", value: "n", help: "Readings per request." },
    clients: { type: "string", default: "20", value: "n", help: "Concurrent clients." },
    cloud: { type: "boolean", help: "Start a cloud too, enroll the agent, wait for the upload." },
    large: {
      type: "boolean",
      help: "The largest readings the schema allows (64-character sensors, 16-character units).",
    },
  },
  notes: ["Docs: docs/PERFORMANCE.md (memory under bursts)."],
} as const;

const ENROLL_TOKEN = "burst-enroll-token-0123456789";

/** Memory of `pid` in MiB, from /proc. */
async function memory(pid: number) {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return {
    rss: field("VmRSS"),
    peak: field("VmHWM"),
    anon: field("RssAnon"),
    file: field("RssFile"),
  };
}

function body(offset: number, count: number, large: boolean): string {
  return JSON.stringify(Array.from({ length: count }, (_, i) => ({
    sensor: large
      ? `${"s".repeat(60)}${String((offset + i) % 1000).padStart(4, "0")}`
      : `sensor-${(offset + i) % 50}`,
    value: (offset + i) * 0.001 + 0.123456789012345,
    unit: large ? "u".repeat(16) : "C",
    ts: new Date(Date.now() - (offset + i)).toISOString(),
  })));
}

async function sync(base: string): Promise<{ state: string; pending: number }> {
  return await (await fetch(`${base}/api/v1/sync`)).json();
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

if (import.meta.main) {
  const values = parseCli(BURST_CLI);
  const [total, batch, clients] = [values.total, values.batch, values.clients].map(Number);
  const dir = await Deno.makeTempDir({ prefix: "outpost-burst-" });
  const processes: { stop(): Promise<unknown> }[] = [];
  const env: Record<string, string> = {
    OUTPOST_DATA_DIR: `${dir}/agent`,
    OUTPOST_LOG_LEVEL: "warn",
  };
  try {
    if (values.cloud) {
      const port = freePort();
      const cloud = startTask("cloud", {
        env: {
          OUTPOST_PORT: String(port),
          OUTPOST_MQTT_PORT: String(freePort()),
          OUTPOST_DATA_DIR: `${dir}/cloud`,
          OUTPOST_ENROLL_TOKEN: ENROLL_TOKEN,
          OUTPOST_LOG_LEVEL: "warn",
        },
      });
      processes.push(cloud);
      await waitForOk(`http://127.0.0.1:${port}/readyz`, 60_000, cloud);
      Object.assign(env, {
        OUTPOST_CLOUD_URL: `http://127.0.0.1:${port}`,
        OUTPOST_ENROLL_TOKEN: ENROLL_TOKEN,
        OUTPOST_DEVICE_ID: "burst",
      });
    }
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const agent = startTask("agent", { env: { ...env, OUTPOST_PORT: String(port) } });
    processes.push(agent);
    await waitForOk(`${base}/readyz`, 60_000, agent);
    const pid = await componentPid(agent.pid, "agent/main.ts");
    if (values.cloud) {
      await until(async () => (await sync(base)).state === "online", 30_000, "online");
    }
    const idle = await memory(pid);
    let sampling = true;
    const sampled = { anon: 0, file: 0 };
    const sampler = (async () => {
      while (sampling) {
        const now = await memory(pid);
        sampled.anon = Math.max(sampled.anon, now.anon);
        sampled.file = Math.max(sampled.file, now.file);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const statuses: Record<number, number> = {};
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: clients }, async () => {
      while (next < total) {
        const offset = next;
        next += batch;
        const response = await fetch(`${base}/api/v1/readings`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: body(offset, Math.min(batch, total - offset), values.large),
        });
        await response.body?.cancel();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const after = await memory(pid);
    let drained: Awaited<ReturnType<typeof memory>> | undefined;
    if (values.cloud) {
      await until(async () => (await sync(base)).pending === 0, 300_000, "the upload");
      drained = await memory(pid);
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
    sampling = false;
    await sampler;
    const settled = await memory(pid);
    const mib = (n: number) => Math.round(n);
    console.log(JSON.stringify(
      {
        total,
        batch,
        clients,
        cloud: values.cloud,
        large: values.large,
        statuses,
        seconds: Math.round(seconds * 10) / 10,
        idleMiB: mib(idle.rss),
        peakMiB: mib(settled.peak),
        peakAnonMiB: mib(sampled.anon),
        fileMiB: mib(sampled.file),
        afterBurstMiB: mib(after.rss),
        ...(drained ? { afterUploadMiB: mib(drained.rss) } : {}),
        settledMiB: mib(settled.rss),
      },
      null,
      2,
    ));
  } finally {
    for (const process of processes.reverse()) await process.stop();
    await Deno.remove(dir, { recursive: true });
  }
}
