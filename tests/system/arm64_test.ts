/**
 * arm64 proof under emulation: the agent runs on the aarch64 build of Deno (npm package
 * `@deno/linux-arm64-glibc`) under `qemu-aarch64-static`, with the arm64 libSQL addon, and
 * syncs to a cloud running natively on x86_64. One focused scenario: it is slow emulated.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { componentRunArgs } from "@outpost/platform/runtime_flags";
import {
  collectLines,
  freePort,
  postJson,
  REPO_ROOT,
  type RunningProcess,
  waitForOk,
} from "../support/process.ts";
import { eventually, startCloud, TEST_ENROLL_TOKEN } from "../support/stack.ts";
import { agentRecords, cloudRecords, compareRecords } from "../support/verify.ts";

const QEMU = "/usr/bin/qemu-aarch64-static";
const SYSROOT = "/usr/aarch64-linux-gnu";
const CACHE = join(REPO_ROOT, ".data", "arm64");

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const output = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return new TextDecoder().decode(output.stdout).trim();
}

/** The aarch64 deno binary from npm, cached under .data/arm64 (git-ignored). */
async function arm64Deno(): Promise<string> {
  const version = Deno.version.deno;
  const dir = join(CACHE, `deno-${version}`);
  const binary = join(dir, "package", "deno");
  if (await exists(binary)) return binary;
  await Deno.mkdir(dir, { recursive: true });
  const tarball = await run("npm", ["pack", `@deno/linux-arm64-glibc@${version}`, "--silent"], dir);
  await run("tar", ["-xzf", tarball.split("\n").at(-1)!], dir);
  return binary;
}

Deno.test("the agent on arm64 Deno under qemu stores, serves and syncs exactly once to an x86_64 cloud", async () => {
  for (
    const [path, pkg] of [[QEMU, "qemu-user-static"], [
      `${SYSROOT}/lib/ld-linux-aarch64.so.1`,
      "libc6-arm64-cross",
    ]]
  ) {
    assert.ok(await exists(path), `missing ${path}: install the Debian package ${pkg}`);
  }
  const deno = await arm64Deno();
  const header = await Deno.readFile(deno).then((bytes) => bytes.slice(0, 20));
  assert.equal(header[18], 0xb7, "the npm package did not hold an AArch64 ELF binary");

  // A clean copy of the sources: the arm64 Deno installs its own node_modules (arm64 addon).
  const workDir = await Deno.makeTempDir({ prefix: "outpost-arm64-" });
  for (const entry of ["agent", "web", "deno.json", "deno.lock"]) {
    await run("cp", ["-a", join(REPO_ROOT, entry), workDir]);
  }
  const cloud = await startCloud();
  const dataDir = join(workDir, "data");
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(QEMU, {
    args: [
      "-L",
      SYSROOT,
      deno,
      ...componentRunArgs("agent", "agent/main.ts"),
    ],
    cwd: workDir,
    env: {
      DENO_DIR: join(CACHE, "deno-dir"),
      NO_COLOR: "1",
      OUTPOST_PORT: String(port),
      OUTPOST_DATA_DIR: dataDir,
      OUTPOST_DEVICE_ID: "pi-emulated",
      OUTPOST_CLOUD_URL: cloud.url,
      OUTPOST_ENROLL_TOKEN: TEST_ENROLL_TOKEN,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const collecting = Promise.all([
    collectLines(child.stdout, output),
    collectLines(child.stderr, output),
  ]);
  const agent = { output } as unknown as RunningProcess;
  try {
    // First run under emulation installs npm packages and compiles: minutes, not seconds.
    await waitForOk(`${base}/readyz`, 240_000, agent);
    const batch = Array.from(
      { length: 500 },
      (_, i) => ({ sensor: i % 2 ? "soil" : "air", value: i }),
    );
    assert.equal((await postJson(`${base}/api/v1/readings`, batch)).status, 201);
    const event = await postJson(`${base}/api/v1/events`, {
      kind: "boot",
      severity: "info",
      message: "arm64",
    });
    assert.equal(event.status, 201);
    const read = await (await fetch(`${base}/api/v1/readings?sensor=air&limit=1000`)).json();
    assert.equal(read.items.length, 250);

    await eventually(
      async () => {
        const sync = await (await fetch(`${base}/api/v1/sync`)).json();
        return sync.state === "online" && sync.pending === 0 && sync.lastSeq === 501;
      },
      "the emulated agent to drain its outbox",
      120_000,
    );
    const device = await cloud.admin<{ arch: string; ackedSeq: number }>(
      "/api/v1/devices/pi-emulated",
    );
    assert.equal(device.body.arch, "aarch64", "the cloud should see the agent's arm64 build");
    assert.equal(device.body.ackedSeq, 501);
    const remote = cloudRecords(cloud.dataDir, "pi-emulated");
    const { lost, phantom, mismatched } = compareRecords(agentRecords(dataDir), remote.map);
    assert.deepEqual([lost.length, phantom.length, mismatched.length, remote.duplicates.length], [
      0,
      0,
      0,
      0,
    ]);
    const addons = [];
    for await (const entry of Deno.readDir(join(workDir, "node_modules", ".deno"))) {
      if (entry.name.startsWith("@libsql+linux-arm64")) addons.push(entry.name);
    }
    assert.ok(addons.length > 0, "the arm64 libSQL addon was not installed");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await collecting.catch(() => {});
    await cloud.process.stop();
    await Deno.remove(workDir, { recursive: true });
  }
});
