/**
 * The 507 path on a real full file system: the agent's data dir on a tiny tmpfs.
 */
import assert from "node:assert/strict";
import { freePort, postJson, startTask, waitForOk } from "../support/process.ts";

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stderr: "piped", stdout: "piped" })
    .output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

Deno.test("on a full disk the agent answers 507, keeps every stored write, and recovers when space is freed", async () => {
  assert.equal(
    Deno.uid(),
    0,
    "this test mounts a 4 MiB tmpfs and needs root (CI runs as root); run it as root",
  );
  const mountPoint = await Deno.makeTempDir({ prefix: "outpost-tmpfs-" });
  await run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const agent = startTask("agent", {
    env: {
      OUTPOST_PORT: String(port),
      OUTPOST_DATA_DIR: `${mountPoint}/data`,
      OUTPOST_DEVICE_ID: "full",
    },
  });
  try {
    await waitForOk(`${base}/readyz`, 60_000, agent);
    // Ballast we can delete later to free space again.
    await Deno.writeFile(`${mountPoint}/ballast`, new Uint8Array(1024 * 1024));
    let acknowledged = 0;
    let full: { status: number; body: unknown } | undefined;
    for (let i = 0; i < 200 && !full; i++) {
      const batch = Array.from({ length: 500 }, (_, j) => ({
        sensor: "fill",
        value: i * 500 + j,
        unit: "x".repeat(16),
      }));
      const result = await postJson(`${base}/api/v1/readings`, batch);
      if (result.status === 201) acknowledged += 500;
      else full = result;
    }
    assert.ok(full, "the disk never filled up");
    assert.equal(
      full.status,
      507,
      JSON.stringify(full.body) + "\n" + agent.output.slice(-5).join("\n"),
    );
    const error = (full.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "disk_full");
    assert.match(error.message, /disk is full/);
    assert.ok(acknowledged > 0);

    // Everything acknowledged is still there, and reads keep working on a full disk.
    const sync = await (await fetch(`${base}/api/v1/sync`)).json();
    assert.equal(sync.lastSeq, acknowledged);
    assert.equal(sync.pending, acknowledged);
    const buckets = await (await fetch(`${base}/api/v1/readings?bucket=1d&sensor=fill`)).json();
    const stored = buckets.items.reduce((n: number, b: { count: number }) => n + b.count, 0);
    assert.equal(stored, acknowledged);

    await Deno.remove(`${mountPoint}/ballast`);
    const after = await postJson(`${base}/api/v1/readings`, { sensor: "after", value: 1 });
    assert.equal(after.status, 201, JSON.stringify(after.body));
    assert.equal((after.body as { lastSeq: number }).lastSeq, acknowledged + 1);
  } finally {
    await agent.stop();
    await run("umount", [mountPoint]).catch(() => {});
    await Deno.remove(mountPoint, { recursive: true }).catch(() => {});
  }
});
