/**
 * Devices on Mosquitto's TLS listener: a real agent syncs over `mqtts://` exactly once, an agent
 * given the wrong CA refuses and says why, and no agent sends its password in plaintext to
 * another host.
 */
import assert from "node:assert/strict";
import { startMosquitto, startMosquittoCloud } from "../support/mosquitto.ts";
import { postJson } from "../support/process.ts";
import { type AgentHandle, eventually, startAgentProcess } from "../support/stack.ts";
import { createTestPki } from "../support/tls.ts";
import { assertExactlyOnce, syncStatus, waitDrained } from "./mosquitto_helpers.ts";

Deno.test("Mosquitto TLS: agents verify the broker against OUTPOST_MQTT_CA and send passwords only over TLS", async (t) => {
  const pki = await createTestPki();
  const broker = await startMosquitto({ tls: pki });
  // Everyone on the TLS listener: the cloud (as dynsec admin and ingest) and the devices.
  const cloud = await startMosquittoCloud(broker, {
    publicUrl: broker.tlsUrl,
    env: { OUTPOST_MQTT_URL: broker.tlsUrl!, OUTPOST_MQTT_CA: pki.caCert },
  });
  const agents: AgentHandle[] = [];
  try {
    await t.step("a device syncs readings and events over TLS exactly once", async () => {
      const agent = await startAgentProcess({
        deviceId: "tls-ok",
        cloudUrl: cloud.url,
        env: { OUTPOST_MQTT_CA: pki.caCert },
      });
      agents.push(agent);
      for (let i = 0; i < 5; i++) {
        const batch = Array.from(
          { length: 1000 },
          (_, j) => ({ sensor: "t", value: i * 1000 + j }),
        );
        assert.equal((await postJson(`${agent.url}/api/v1/readings`, batch)).status, 201);
        const event = await postJson(`${agent.url}/api/v1/events`, {
          kind: "tls",
          severity: "info",
          message: `batch ${i}`,
        });
        assert.equal(event.status, 201);
      }
      await waitDrained(agent);
      assert.equal(assertExactlyOnce(agent, cloud.dataDir), 5005);
      const status = await syncStatus(agent);
      assert.equal(status.lastError, null);
      assert.ok(
        agent.process.output.some((line) =>
          line.includes('"broker connected"') && line.includes(broker.tlsUrl!)
        ),
        "the agent connected to the TLS listener",
      );
    });

    await t.step("an agent given the wrong CA refuses to connect and says why", async () => {
      const agent = await startAgentProcess({
        deviceId: "tls-wrong-ca",
        cloudUrl: cloud.url,
        env: { OUTPOST_MQTT_CA: pki.otherCaCert },
      });
      agents.push(agent);
      assert.equal(
        (await postJson(`${agent.url}/api/v1/readings`, { sensor: "x", value: 1 })).status,
        201,
      );
      await eventually(
        async () => /certificate/i.test((await syncStatus(agent)).lastError ?? ""),
        "lastError to name the certificate problem",
        20_000,
      );
      const status = await syncStatus(agent);
      console.log(`lastError: ${status.lastError}`);
      assert.notEqual(status.state, "online");
      assert.equal(status.pending, 1, "the write stays queued");
      assert.match(
        status.lastError!,
        /TLS certificate of the broker at mqtts:\/\/127\.0\.0\.1:\d+ rejected/,
      );
      assert.ok(status.lastError!.includes(pki.otherCaCert), status.lastError!);
      assert.ok(
        agent.process.output.some((line) => line.includes("TLS certificate of the broker")),
        "the log says it too",
      );
    });

    await t.step(
      "an agent refuses to send its password over plaintext to a non-loopback host",
      async () => {
        const agent = await startAgentProcess({
          deviceId: "tls-plaintext",
          cloudUrl: cloud.url,
          // TEST-NET-1: nothing there; the agent must not even try.
          env: { OUTPOST_MQTT_URL: "mqtt://192.0.2.10:1883" },
        });
        agents.push(agent);
        await eventually(
          async () => /plaintext/.test((await syncStatus(agent)).lastError ?? ""),
          "lastError to refuse plaintext",
          20_000,
        );
        const status = await syncStatus(agent);
        assert.equal(status.state, "offline");
        assert.match(
          status.lastError!,
          /Refusing to send the MQTT password in plaintext to mqtt:\/\/192\.0\.2\.10:1883/,
        );
        assert.ok(
          !agent.process.output.some((line) => line.includes('"connecting to the broker"')),
        );
      },
    );
  } finally {
    for (const agent of agents) await agent.process.stop();
    await cloud.process.stop();
    await broker.dispose();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
