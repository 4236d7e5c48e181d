import assert from "node:assert/strict";

import { componentRunArgs } from "@outpost/platform/runtime_flags";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

function spawnCloud(env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: componentRunArgs("cloud", MAIN),
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("main exits 2 with one line naming the port and the setting when the MQTT port is taken", async () => {
  const dir = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const child = spawnCloud({
      OUTPOST_DATA_DIR: dir,
      OUTPOST_PORT: "0",
      OUTPOST_MQTT_PORT: String(taken.addr.port),
    });
    const { code, stderr } = await child.output();
    assert.equal(code, 2);
    const last = new TextDecoder().decode(stderr).trim().split("\n").at(-1);
    assert.equal(
      last,
      `Cannot start cloud: MQTT port ${taken.addr.port} on 127.0.0.1 is already in use; choose another with OUTPOST_MQTT_PORT or --mqtt-port`,
    );
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main stops gracefully on SIGTERM and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = spawnCloud({ OUTPOST_DATA_DIR: dir, OUTPOST_PORT: "0", OUTPOST_MQTT_PORT: "0" });
    const lines: string[] = [];
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    const deadline = Date.now() + 20_000;
    while (!lines.some((line) => line.includes('"cloud ready"')) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
    }
    assert.ok(lines.some((line) => line.includes('"cloud ready"')), lines.join("\n"));
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      lines.push(value);
    }
    await child.stdout.cancel();
    const { code } = await child.status;
    assert.equal(code, 0);
    assert.ok(lines.join("").includes('"cloud stopped"'));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
