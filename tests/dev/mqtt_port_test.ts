// `deno task dev` on a machine that already runs an MQTT broker on 1883 (most IoT developers'
// machines, and these): the README's first command must work there, and say which port it used.
import assert from "node:assert/strict";
import { chooseMqttPort, DEFAULT_MQTT_PORT } from "./mqtt_port.ts";
import { freePort, REPO_ROOT } from "../support/process.ts";

const HOST = "127.0.0.1";
const DEV_ADMIN_TOKEN = "dev-admin-token-local-only";

Deno.test("the broker port is the flag, else OUTPOST_MQTT_PORT, else 1883, else a free one, said aloud", () => {
  const taken = () => false;
  const free = () => true;
  const port = () => 41234;
  assert.deepEqual(chooseMqttPort({ flag: "1884", env: "1885", host: HOST, isFree: taken }), {
    port: "1884",
  });
  // What the cloud's own error asks for when 1883 is taken: now honoured.
  assert.deepEqual(chooseMqttPort({ env: "1885", host: HOST, isFree: taken }), { port: "1885" });
  assert.deepEqual(chooseMqttPort({ env: "", host: HOST, isFree: free }), { port: "1883" });
  const moved = chooseMqttPort({ host: HOST, isFree: taken, freePort: port });
  assert.equal(moved.port, "41234");
  assert.match(moved.note ?? "", /port 1883 on 127\.0\.0\.1 is taken .* uses port 41234 instead/);
  // A port the developer asked for is never swapped, even when taken.
  assert.deepEqual(chooseMqttPort({ flag: "1883", host: HOST, isFree: taken, freePort: port }), {
    port: "1883",
  });
});

/** Holds 127.0.0.1:1883 for the test when nothing else does (on these machines Mosquitto does). */
function occupyDefaultPort(): Deno.Listener | undefined {
  try {
    return Deno.listen({ hostname: HOST, port: DEFAULT_MQTT_PORT });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return undefined;
    throw error;
  }
}

/** `deno task dev` as a developer runs it (ports of its own so the test does not collide). */
function startDev(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "dev", ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output.push(decoder.decode(chunk));
  };
  const done = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited: number | undefined;
  child.status.then((status) => exited = status.code);
  return { child, output: () => output.join(""), done, exited: () => exited };
}

async function until(
  what: string,
  probe: () => Promise<boolean>,
  dev: { output: () => string; exited: () => number | undefined },
) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (dev.exited() !== undefined) {
      throw new Error(
        `deno task dev exited (code ${dev.exited()}) before ${what}:\n${dev.output().slice(-4000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `timed out waiting for ${what}; deno task dev printed:\n${dev.output().slice(-4000)}`,
  );
}

Deno.test("deno task dev works while another broker holds 1883: it picks a free port, says so, and syncs", async () => {
  const held = occupyDefaultPort();
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-dev-" });
  const cloudPort = freePort();
  const agentPort = freePort();
  const dev = startDev([
    "--cloud-port",
    String(cloudPort),
    "--agent-port",
    String(agentPort),
    "--data-dir",
    dataDir,
  ]);
  try {
    const agent = `http://127.0.0.1:${agentPort}`;
    await until(
      "the dev agent online, enrolled over the embedded broker",
      async () => (await (await fetch(`${agent}/api/v1/sync`)).json()).state === "online",
      dev,
    );
    const note = dev.output().match(
      /port 1883 on 127\.0\.0\.1 is taken .* uses port (\d+) instead/,
    );
    assert.ok(note, `no word about the port in:\n${dev.output()}`);
    const mqttPort = Number(note[1]);
    assert.notEqual(mqttPort, DEFAULT_MQTT_PORT);
    (await Deno.connect({ hostname: HOST, port: mqttPort })).close();
    // The demo feed's readings reach the cloud through that broker.
    await until("the demo feed's readings in the cloud", async () => {
      const response = await fetch(
        `http://127.0.0.1:${cloudPort}/api/v1/readings?device=dev-agent`,
        {
          headers: { authorization: `Bearer ${DEV_ADMIN_TOKEN}` },
        },
      );
      return ((await response.json()).items ?? []).length > 0;
    }, dev);
  } finally {
    dev.child.kill("SIGINT");
    const status = await dev.child.status;
    await dev.done;
    held?.close();
    await Deno.remove(dataDir, { recursive: true });
    assert.equal(status.code, 0, `Ctrl-C stops it cleanly:\n${dev.output().slice(-2000)}`);
  }
});

Deno.test("deno task dev honours OUTPOST_MQTT_PORT, and a taken port asked for stops it with the cloud's one line", async () => {
  const held = occupyDefaultPort();
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-dev-" });
  const mqttPort = freePort();
  const ports = () => ["--cloud-port", String(freePort()), "--agent-port", String(freePort())];
  try {
    const dev = startDev([...ports(), "--data-dir", dataDir], {
      OUTPOST_MQTT_PORT: String(mqttPort),
    });
    try {
      await until("the embedded broker on OUTPOST_MQTT_PORT", async () => {
        (await Deno.connect({ hostname: HOST, port: mqttPort })).close();
        return true;
      }, dev);
      assert.doesNotMatch(dev.output(), /is taken/);
    } finally {
      dev.child.kill("SIGINT");
      await dev.child.status;
      await dev.done;
    }
    // Asked for explicitly, a taken port is not swapped: the cloud stops with its one line.
    const refused = startDev([...ports(), "--data-dir", dataDir, "--mqtt-port", "1883"]);
    try {
      const inUse =
        /MQTT port 1883 on 127\.0\.0\.1 is already in use; choose another with OUTPOST_MQTT_PORT or --mqtt-port/;
      await until("the cloud's error line", () => Promise.resolve(inUse.test(refused.output())), {
        output: refused.output,
        exited: () => inUse.test(refused.output()) ? undefined : refused.exited(),
      });
      assert.doesNotMatch(refused.output(), /is taken/);
    } finally {
      refused.child.kill("SIGINT");
      await refused.child.status;
      await refused.done;
    }
  } finally {
    held?.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
