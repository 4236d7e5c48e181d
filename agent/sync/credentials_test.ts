import assert from "node:assert/strict";
import { join } from "node:path";
import { brokerUrls } from "@outpost/protocol";
import { CREDENTIALS_FILE, loadCredentials, saveCredentials } from "./credentials.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-credentials-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("credentials written by an agent before broker URL lists still load, with their one URL", async () => {
  await withDir(async (dir) => {
    // The exact shape older agents wrote.
    const old = {
      cloudUrl: "https://cloud.example",
      enrolledAt: "2026-11-01T00:00:00.000Z",
      deviceId: "pi-1",
      mqtt: {
        url: "mqtts://mqtt.example:8883",
        username: "pi-1",
        password: "pw",
        protocolVersion: 5,
      },
    };
    await Deno.writeTextFile(join(dir, CREDENTIALS_FILE), JSON.stringify(old));
    const loaded = await loadCredentials(dir);
    assert.equal(loaded?.mqtt.urls, undefined);
    assert.deepEqual(brokerUrls(loaded!.mqtt), ["mqtts://mqtt.example:8883"]);
  });
});

Deno.test("credentials with several broker URLs round-trip in order, with mode 0600", async () => {
  await withDir(async (dir) => {
    const urls = ["mqtts://n2.example:8883", "mqtts://n1.example:8883"];
    await saveCredentials(dir, {
      cloudUrl: "https://cloud.example",
      enrolledAt: "2026-11-01T00:00:00.000Z",
      deviceId: "pi-1",
      mqtt: { url: urls[0], urls, username: "pi-1", password: "pw", protocolVersion: 4 },
    });
    const loaded = await loadCredentials(dir);
    assert.deepEqual(brokerUrls(loaded!.mqtt), urls);
    assert.equal((await Deno.stat(join(dir, CREDENTIALS_FILE))).mode! & 0o777, 0o600);
  });
});
