// The tasks as a user runs them (issue 15): every task answers --help with its flags, variables
// and defaults and exits 0; an unknown flag is one line and exit 2, never a stack trace; and
// `deno task dev` keeps the agent running while the cloud is stopped (the offline demo), after
// which the agent reconnects within seconds.
import assert from "node:assert/strict";
import { agentSettings } from "@outpost/agent/config";
import { cloudSettings } from "@outpost/cloud/config";
import { collectLines, freePort, REPO_ROOT, waitForOk } from "../support/process.ts";

async function runTask(task: string, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", task, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** What a task printed, without what the dev task's build step prints. */
const ownLines = (text: string) =>
  text.split("\n").filter((line) =>
    line.trim() && !line.startsWith("UI assets built") && !line.startsWith("Task build:web")
  );

Deno.test("agent and cloud --help list every setting with its flag, variable and default", async () => {
  for (const [task, specs] of [["agent", agentSettings], ["cloud", cloudSettings]] as const) {
    const { code, stdout, stderr } = await runTask(task, ["--help"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`Usage: deno task ${task} \\[options\\]`));
    for (const spec of Object.values(specs)) {
      assert.ok(stdout.includes(`--${spec.flag} <`), `${task}: --${spec.flag}`);
      assert.ok(stdout.includes(spec.env), `${task}: ${spec.env}`);
      assert.ok(stdout.includes(spec.help.slice(0, 30)), `${task}: help of --${spec.flag}`);
    }
    assert.match(stdout, /--port <port> +OUTPOST_PORT\n +.*Default: 80[08]0\./);
  }
});

Deno.test("dev, sim, bench, promote and nats:init --help print their flags and exit 0", async () => {
  const expected: Record<string, RegExp[]> = {
    dev: [/--no-cloud/, /--cloud-port <port>/, /Default: 8080/, /type c and Enter/],
    sim: [/--devices <n>/, /Default: 100/, /OUTPOST_ENROLL_TOKEN/],
    bench: [/--smoke/, /--only <sync\|fleet\|agent>/, /--sync-rows <n>/, /--fleet-devices <n>/],
    promote: [/--ref <commit>/, /--check/, /Default: edge-staging/],
    "nats:init": [/--out <dir>/, /--resolver-dir <dir>/, /Default: \/data\/jwt/],
  };
  for (const [task, patterns] of Object.entries(expected)) {
    const { code, stdout, stderr } = await runTask(task, ["--help"]);
    assert.equal(code, 0, `${task}: ${stderr}`);
    assert.match(stdout, new RegExp(`Usage: deno task ${task} \\[options\\]`));
    for (const pattern of patterns) assert.match(stdout, pattern, task);
  }
});

Deno.test("an unknown flag is one line naming it and exit 2 for every task", async () => {
  for (const task of ["agent", "cloud", "dev", "sim", "bench", "promote", "nats:init"]) {
    const { code, stdout, stderr } = await runTask(task, ["--frobnicate"]);
    assert.equal(code, 2, `${task}: ${stdout}${stderr}`);
    const lines = ownLines(stderr);
    assert.equal(lines.length, 1, `${task}: ${stderr}`);
    assert.match(lines[0], /--frobnicate/);
    assert.match(lines[0], /--help/);
    assert.doesNotMatch(stderr, /\bat .*\.ts:\d+|TypeError|Stack/, "no stack trace");
  }
});

/** `deno task dev` with its stdin piped, so the test can type `c`. */
function startDev(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "dev", ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", OUTPOST_LOG_LEVEL: "warn" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  const output: string[] = [];
  const closed = Promise.all([
    collectLines(child.stdout, output),
    collectLines(child.stderr, output),
  ]).catch(() => {});
  const stdin = child.stdin.getWriter();
  return {
    output,
    type: (text: string) => stdin.write(new TextEncoder().encode(text)),
    async stop() {
      try {
        Deno.kill(-child.pid, "SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => Deno.kill(-child.pid, "SIGKILL"), 10_000);
      await child.status;
      clearTimeout(timer);
      await stdin.close().catch(() => {});
      await closed;
    },
  };
}

async function syncOf(agentUrl: string) {
  return await (await fetch(`${agentUrl}/api/v1/sync`)).json();
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test("deno task dev keeps the agent running while the cloud is stopped, and the agent reconnects within seconds when it is back", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-dev-" });
  const [cloudPort, mqttPort, agentPort] = [freePort(), freePort(), freePort()];
  const cloudUrl = `http://127.0.0.1:${cloudPort}`;
  const agentUrl = `http://127.0.0.1:${agentPort}`;
  const dev = startDev([
    `--cloud-port=${cloudPort}`,
    `--mqtt-port=${mqttPort}`,
    `--agent-port=${agentPort}`,
    `--data-dir=${dataDir}`,
    "--no-feed",
  ]);
  try {
    await until(async () => (await syncOf(agentUrl)).state === "online", "online", 90_000);
    await dev.type("c\n");
    await until(
      async () => (await syncOf(agentUrl)).state !== "online",
      "the agent to see the cloud go",
      20_000,
    );
    await until(
      () => fetch(`${cloudUrl}/healthz`).then(() => false, () => true),
      "the cloud to stop",
      20_000,
    );
    // Long enough for the reconnect backoff to grow past 8 s (0.5, 1, 2, 4, 8 s, ...).
    await new Promise((resolve) => setTimeout(resolve, 16_000));
    const offline = await syncOf(agentUrl);
    assert.equal(offline.state, "offline");
    assert.equal(offline.problem, "broker_unreachable");
    const written = await fetch(`${agentUrl}/api/v1/readings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ sensor: "offline-demo", value: 1 }, {
        sensor: "offline-demo",
        value: 2,
      }]),
    });
    assert.equal(written.status, 201, "the agent takes writes with the cloud away");
    assert.equal((await syncOf(agentUrl)).pending >= 2, true);

    await dev.type("c\n");
    await waitForOk(`${cloudUrl}/readyz`, 60_000);
    const back = Date.now();
    await until(async () => (await syncOf(agentUrl)).state === "online", "reconnect", 30_000);
    const seconds = (Date.now() - back) / 1000;
    assert.ok(seconds < 6, `reconnected ${seconds.toFixed(1)} s after the cloud was ready`);
    console.log(`reconnected ${seconds.toFixed(1)} s after the cloud was ready`);
    await until(async () => (await syncOf(agentUrl)).pending === 0, "the queue to drain", 20_000);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\n--- dev output ---\n${dev.output.slice(-40).join("\n")}`,
    );
  } finally {
    await dev.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
