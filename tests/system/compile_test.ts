/**
 * `deno task compile`. Building needs `denort`, which these machines cannot download: the build
 * test runs where DENORT_BIN is set and is reported as ignored (with the reason in its name)
 * elsewhere; what can run here — staging per target and the plain error — always runs.
 */
import assert from "node:assert/strict";
import { denortSource, stage } from "@outpost/agent/build";
import { freePort, postJson, REPO_ROOT, waitForOk } from "../support/process.ts";

const denortBin = Deno.env.get("DENORT_BIN");

Deno.test("staging an aarch64 build swaps the host's libSQL addon for the arm64 one and stamps the version", async () => {
  const dir = await stage("aarch64-unknown-linux-gnu", "9.9.9-test");
  try {
    const addons = [];
    for await (
      const entry of Deno.readDir(`${dir}/node_modules/.deno/libsql@0.5.29/node_modules/@libsql`)
    ) {
      addons.push(entry.name);
    }
    assert.deepEqual(addons, ["linux-arm64-gnu"]);
    const addon = await Deno.readFile(
      `${dir}/node_modules/.deno/libsql@0.5.29/node_modules/@libsql/linux-arm64-gnu/index.node`,
    );
    // ELF header, e_machine 0xB7 = AArch64.
    assert.deepEqual([...addon.slice(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.equal(addon[18], 0xb7);
    assert.match(await Deno.readTextFile(`${dir}/agent/platform/version.ts`), /"9\.9\.9-test"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "without denort, deno task compile fails and says how to provide it",
  ignore: (await denortSource("x86_64-unknown-linux-gnu")).ok,
  fn: async () => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--quiet",
        "compile",
        "--target",
        "x86_64-unknown-linux-gnu",
        "--component",
        "agent",
      ],
      cwd: REPO_ROOT,
      env: { DENORT_BIN: "" },
    }).output();
    assert.equal(output.code, 1);
    const text = new TextDecoder().decode(output.stderr);
    assert.match(text, /cannot build: no denort for x86_64-unknown-linux-gnu: set DENORT_BIN/);
  },
});

Deno.test({
  name:
    "the compiled x86_64 agent starts, stores a write and answers it (needs DENORT_BIN: denort cannot be downloaded on these machines)",
  ignore: !denortBin,
  fn: async () => {
    const build = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--quiet",
        "compile",
        "--target",
        "x86_64-unknown-linux-gnu",
        "--component",
        "agent",
      ],
      cwd: REPO_ROOT,
    }).output();
    assert.ok(build.success, new TextDecoder().decode(build.stderr));
    const dataDir = await Deno.makeTempDir();
    const port = freePort();
    const child = new Deno.Command(`${REPO_ROOT}/dist/outpost-agent-x86_64-unknown-linux-gnu`, {
      env: { OUTPOST_PORT: String(port), OUTPOST_DATA_DIR: dataDir },
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitForOk(`http://127.0.0.1:${port}/readyz`);
      const result = await postJson(`http://127.0.0.1:${port}/api/v1/readings`, {
        sensor: "t",
        value: 1,
      });
      assert.equal(result.status, 201);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
