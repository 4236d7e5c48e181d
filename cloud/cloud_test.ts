import assert from "node:assert/strict";
import mqtt from "mqtt";
import { topics } from "@outpost/protocol";
import { startCloud } from "./cloud.ts";
import { loadCloudConfig } from "./config.ts";
import { collectingLogger, eventually, readingBatch } from "./testing/fixtures.ts";

async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-cloud-life-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the cloud starts, enrolls a device, ingests its batch over MQTT and stops cleanly", async () => {
  await withDataDir(async (dir) => {
    const { logger, lines } = collectingLogger();
    const config = loadCloudConfig([], {
      OUTPOST_PORT: "0",
      OUTPOST_MQTT_PORT: "0",
      OUTPOST_DATA_DIR: dir,
      OUTPOST_CERT_FILES: `test=${dir}/missing.crt`,
    });
    const cloud = await startCloud(config, logger);
    try {
      await cloud.ready;
      const base = `http://127.0.0.1:${cloud.addr.port}`;
      // Tokens were generated into 0600 files and never logged.
      assert.equal((await Deno.readTextFile(`${dir}/admin-token`)).trim(), cloud.adminToken);
      assert.equal((await Deno.readTextFile(`${dir}/enroll-token`)).trim(), cloud.enrollToken);
      const logged = JSON.stringify(lines);
      assert.ok(!logged.includes(cloud.adminToken) && !logged.includes(cloud.enrollToken));
      assert.equal(cloud.mqttPublicUrl, `mqtt://127.0.0.1:${cloud.mqttPort}`);

      const enrolled = await fetch(`${base}/api/v1/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ deviceId: "pi-1", token: cloud.enrollToken }),
      });
      const { mqtt: credentials } = await enrolled.json();
      assert.equal(credentials.protocolVersion, 4);
      assert.equal(credentials.downlinkQos, 1, "the embedded broker queues QoS 1 downlink");
      const device = await mqtt.connectAsync(credentials.url, {
        protocolVersion: credentials.protocolVersion,
        clientId: credentials.username,
        username: credentials.username,
        password: credentials.password,
        reconnectPeriod: 0,
      });
      const acks: unknown[] = [];
      device.on("message", (_topic, payload) => acks.push(JSON.parse(payload.toString())));
      await device.subscribeAsync(topics.ack("pi-1"), { qos: 1 });
      await device.publishAsync(topics.batch("pi-1"), JSON.stringify(readingBatch(1, 20)), {
        qos: 1,
      });
      await eventually(() => acks.length === 1, "the ack");
      assert.deepEqual(acks, [{ upTo: 20 }]);
      const readings = await fetch(`${base}/api/v1/readings?device=pi-1&limit=100`, {
        headers: { authorization: `Bearer ${cloud.adminToken}` },
      });
      assert.equal((await readings.json()).items.length, 20);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      for (
        const series of [
          /^outpost_build_info\{component="cloud",version="[^"]+"\} 1$/m,
          /^outpost_ready 1$/m,
          // Presence comes from the device's status message, which this client never sent.
          /^outpost_devices\{state="online"\} 0$/m,
          /^outpost_devices\{state="offline"\} 1$/m,
          /^outpost_devices_offline_longer_than\{seconds="3600"\} 0$/m,
          /^outpost_fleet_backlog_records 0$/m,
          /^outpost_broker_connected 1$/m,
          /^outpost_enrollments_total\{result="created"\} 1$/m,
          /^outpost_ingest_records_total\{type="reading"\} 20$/m,
          /^outpost_ingest_upload_delay_seconds_count 1$/m,
          /^outpost_certificate_readable\{certificate="test"\} 0$/m,
          /^outpost_disk_free_bytes \d+$/m,
        ]
      ) {
        assert.match(metrics, series);
      }
      await device.endAsync();
    } finally {
      await cloud.stop();
    }
    assert.ok(lines.some((line) => line.msg === "cloud stopped"));
  });
});

Deno.test("the cloud refuses to start when its HTTP or MQTT port is taken, naming port and setting", async () => {
  await withDataDir(async (dir) => {
    const { logger } = collectingLogger();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String(taken.addr.port);
    try {
      const env = { OUTPOST_DATA_DIR: dir, OUTPOST_PORT: "0", OUTPOST_MQTT_PORT: "0" };
      await assert.rejects(
        startCloud(loadCloudConfig([], { ...env, OUTPOST_MQTT_PORT: port }), logger),
        new RegExp(
          `MQTT port ${port} on 127\\.0\\.0\\.1 is already in use; choose another with OUTPOST_MQTT_PORT`,
        ),
      );
      await assert.rejects(
        startCloud(loadCloudConfig([], { ...env, OUTPOST_PORT: port }), logger),
        new RegExp(
          `port ${port} on 127\\.0\\.0\\.1 is already in use; choose another with OUTPOST_PORT`,
        ),
      );
    } finally {
      taken.close();
    }
  });
});

Deno.test("an unreachable PostgreSQL stops the start with one line and creates nothing", async () => {
  await withDataDir(async (dir) => {
    const { logger } = collectingLogger();
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = closed.addr as Deno.NetAddr;
    closed.close();
    const config = loadCloudConfig([], {
      OUTPOST_DATA_DIR: `${dir}/data`,
      DATABASE_URL: `postgres://outpost:pw-secret@127.0.0.1:${port}/outpost`,
    });
    await assert.rejects(
      startCloud(config, logger),
      /Cannot start cloud: DATABASE_URL: cannot connect to PostgreSQL at postgres:\/\/outpost:\*\*\*@127/,
    );
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound);
  });
});

Deno.test("with several public broker URLs enrollment hands out all of them, the first also as url", async () => {
  await withDataDir(async (dir) => {
    const { logger, lines } = collectingLogger();
    const urls = ["mqtts://n1.example:8883", "mqtts://user:hunter2@n2.example:8883"];
    const config = loadCloudConfig([], {
      OUTPOST_PORT: "0",
      OUTPOST_MQTT_PORT: "0",
      OUTPOST_DATA_DIR: dir,
      OUTPOST_MQTT_PUBLIC_URL: urls.join(","),
    });
    const cloud = await startCloud(config, logger);
    try {
      await cloud.ready;
      const enrolled = await fetch(`http://127.0.0.1:${cloud.addr.port}/api/v1/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ deviceId: "pi-1", token: cloud.enrollToken }),
      });
      const { mqtt: credentials } = await enrolled.json();
      assert.equal(credentials.url, urls[0]);
      assert.deepEqual(credentials.urls, urls);
      const listening = lines.find((line) => line.msg === "cloud listening");
      assert.deepEqual(listening?.mqttPublicUrls, [urls[0], "mqtts://n2.example:8883"]);
      assert.ok(!JSON.stringify(lines).includes("hunter2"), "credentials in a URL are not logged");
    } finally {
      await cloud.stop();
    }
  });
});
