/**
 * Enrollment against a real Mosquitto with dynamic security: the cloud creates one client and
 * role per device, and the broker enforces it — a device reaches its own topics only.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { topics } from "@outpost/protocol";
import { deviceRoleName, INGEST_USERNAME } from "@outpost/cloud/broker/mosquitto";
import {
  dynsec,
  startMosquitto,
  startMosquittoCloud,
  TEST_DYNSEC_ADMIN,
} from "../support/mosquitto.ts";
import { postJson } from "../support/process.ts";
import { type CloudHandle, eventually, TEST_ENROLL_TOKEN } from "../support/stack.ts";

interface Enrolled {
  deviceId: string;
  mqtt: { url: string; username: string; password: string; protocolVersion: 4 | 5 };
}

/** Enrolls `deviceId` with the test token and a device secret of its own (as an agent does). */
async function enroll(cloud: CloudHandle, deviceId: string) {
  return await postJson(`${cloud.url}/api/v1/enroll`, {
    deviceId,
    token: TEST_ENROLL_TOKEN,
    deviceSecret: `secret-of-${deviceId}-0123456789abcdef0123456789`,
  });
}

function connect(url: string, options: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...options,
  });
}

/** Resolves with the CONNACK reason code of a refused connection (fails if it connects). */
async function refusedCode(url: string, options: mqtt.IClientOptions): Promise<unknown> {
  try {
    const client = await connect(url, options);
    await client.endAsync(true);
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  assert.fail(`connected with ${JSON.stringify({ ...options, password: "…" })}`);
}

Deno.test("Mosquitto dynsec: enrollment creates a device client whose role grants exactly its own topics", async (t) => {
  const broker = await startMosquitto();
  const cloud = await startMosquittoCloud(broker);
  const clients: mqtt.MqttClient[] = [];
  try {
    const a = await enroll(cloud, "dyn-a");
    const b = await enroll(cloud, "dyn-b");
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    const credsA = (a.body as Enrolled).mqtt;
    const credsB = (b.body as Enrolled).mqtt;

    await t.step("enrollment answers MQTT 5 credentials for the broker's public URL", () => {
      assert.equal(credsA.url, broker.url);
      assert.equal(credsA.protocolVersion, 5);
      assert.equal(credsA.username, "dyn-a");
      assert.ok(credsA.password.length >= 40);
    });

    await t.step(
      "the broker holds a client bound to the device id, with its own role",
      async () => {
        const [client, role, ingest] = await dynsec(broker, [
          { command: "getClient", username: "dyn-a" },
          { command: "getRole", rolename: deviceRoleName("dyn-a") },
          { command: "getClient", username: INGEST_USERNAME },
        ]);
        assert.equal(client.error, undefined, `getClient: ${client.error}`);
        const data = (client.data as {
          client: { clientid: string; roles: { rolename: string }[] };
        }).client;
        assert.equal(data.clientid, "dyn-a");
        assert.deepEqual(data.roles.map((r) => r.rolename), [deviceRoleName("dyn-a")]);
        const acls = (role.data as { role: { acls: { acltype: string; topic: string }[] } }).role
          .acls.filter((acl) => (acl as { allow?: boolean }).allow !== false)
          .map((acl) => `${acl.acltype} ${acl.topic}`).sort();
        assert.deepEqual(acls, [
          "publishClientReceive outpost/v1/dyn-a/down/#",
          "publishClientSend outpost/v1/dyn-a/up/#",
          "subscribePattern outpost/v1/dyn-a/down/#",
        ]);
        assert.equal(ingest.error, undefined, "the cloud's ingest client exists");
      },
    );

    const deviceA = await connect(credsA.url, {
      clientId: "dyn-a",
      username: credsA.username,
      password: credsA.password,
    });
    clients.push(deviceA);

    await t.step("device A may publish its uplink and subscribe to its downlink", async () => {
      await deviceA.publishAsync(topics.status("dyn-a"), JSON.stringify({ online: true }), {
        qos: 1,
      });
      await deviceA.subscribeAsync(topics.deviceDownlink("dyn-a"), { qos: 1 });
      await deviceA.subscribeAsync(topics.ack("dyn-a"), { qos: 1 });
    });

    await t.step(
      "device A's hello is answered with its ack and desired state, not retained",
      async () => {
        const received: { topic: string; payload: unknown; retain: boolean }[] = [];
        deviceA.on("message", (topic, payload, packet) => {
          received.push({ topic, payload: JSON.parse(payload.toString()), retain: packet.retain });
        });
        const put = await cloud.admin<{ version: number }>("/api/v1/devices/dyn-a/desired", {
          method: "PUT",
          body: JSON.stringify({ logLevel: "debug" }),
        });
        assert.equal(put.status, 200);
        // The retained copy of the PUT reaches the subscribed device first; then the answer.
        await eventually(
          () => Promise.resolve(received.some((m) => m.topic === topics.desired("dyn-a"))),
          "the desired state published on the PUT",
          10_000,
        );
        received.length = 0;
        const hello = { v: 1, agentVersion: "test", outbox: { head: 0, acked: 0 } };
        await deviceA.publishAsync(topics.hello("dyn-a"), JSON.stringify(hello), { qos: 1 });
        await eventually(
          () =>
            Promise.resolve(
              received.some((m) => m.topic === topics.ack("dyn-a")) &&
                received.some((m) => m.topic === topics.desired("dyn-a")),
            ),
          "the ack and the desired state answering the hello",
          10_000,
        );
        // A subscribed to down/# and to down/ack: Mosquitto delivers an ack once per match.
        const distinct = [...new Set(received.map((m) => JSON.stringify(m)))].map((m) =>
          JSON.parse(m)
        );
        assert.deepEqual(distinct, [
          { topic: topics.ack("dyn-a"), payload: { upTo: 0 }, retain: false },
          {
            topic: topics.desired("dyn-a"),
            payload: { version: put.body.version, desired: { logLevel: "debug" } },
            retain: false,
          },
        ]);
      },
    );

    await t.step("device A is refused every one of B's topics, publish and subscribe", async () => {
      const publishTo = [
        topics.batch("dyn-b"),
        topics.status("dyn-b"),
        topics.hello("dyn-b"),
        topics.ack("dyn-b"),
        topics.desired("dyn-b"),
        topics.command("dyn-b"),
        topics.ack("dyn-a"), // only the cloud publishes downlink, even A's own
      ];
      for (const topic of publishTo) {
        await assert.rejects(
          deviceA.publishAsync(topic, "{}", { qos: 1 }),
          (error: { code?: number }) => error.code === 135,
          `publish to ${topic}`,
        );
      }
      const subscribeTo = [
        topics.deviceDownlink("dyn-b"),
        topics.deviceUplink("dyn-b"),
        topics.ack("dyn-b"),
        topics.desired("dyn-b"),
        topics.command("dyn-b"),
        topics.batch("dyn-b"),
        topics.status("dyn-b"),
        "outpost/v1/+/down/#",
        topics.allUplink,
        topics.sharedUplink("steal"),
        "#",
      ];
      for (const filter of subscribeTo) {
        await assert.rejects(
          deviceA.subscribeAsync(filter, { qos: 1 }),
          /Not authorized/,
          `subscribe to ${filter}`,
        );
      }
      assert.ok(deviceA.connected, "refusals do not cost A its connection");
    });

    await t.step(
      "A's credentials cannot take over B's client id; strangers are refused",
      async () => {
        const asB = { clientId: "dyn-b", username: credsA.username, password: credsA.password };
        assert.equal(await refusedCode(broker.url, asB), 135);
        assert.equal(
          await refusedCode(broker.url, { clientId: "ghost", username: "ghost", password: "x" }),
          135,
        );
        assert.equal(await refusedCode(broker.url, { clientId: "anon" }), 135);
        assert.equal(
          await refusedCode(broker.url, {
            clientId: "dyn-b",
            username: "dyn-b",
            password: credsA.password,
          }),
          135,
        );
        // B's own credentials work (so the refusals above are about A, not a broken B).
        clients.push(
          await connect(broker.url, {
            clientId: "dyn-b",
            username: credsB.username,
            password: credsB.password,
          }),
        );
      },
    );

    await t.step(
      "re-enrollment with the device secret rotates the password and ends the old session",
      async () => {
        let closed = false;
        deviceA.on("close", () => closed = true);
        const again = await enroll(cloud, "dyn-a");
        assert.equal(again.status, 200);
        const rotated = (again.body as Enrolled).mqtt;
        assert.notEqual(rotated.password, credsA.password);
        await eventually(
          () => Promise.resolve(closed),
          "the old session to be disconnected",
          5_000,
        );
        assert.equal(
          await refusedCode(broker.url, {
            clientId: "dyn-a",
            username: "dyn-a",
            password: credsA.password,
          }),
          135,
        );
        clients.push(
          await connect(broker.url, {
            clientId: "dyn-a",
            username: "dyn-a",
            password: rotated.password,
          }),
        );
      },
    );

    await t.step(
      "a device disabled in the broker (revoked) is refused at connect and at enrollment",
      async () => {
        const [disabled] = await dynsec(broker, [{ command: "disableClient", username: "dyn-b" }]);
        assert.equal(disabled.error, undefined);
        const asB = { clientId: "dyn-b", username: credsB.username, password: credsB.password };
        assert.equal(await refusedCode(broker.url, asB), 135);
        const again = await enroll(cloud, "dyn-b");
        assert.equal(again.status, 403, JSON.stringify(again.body));
        assert.equal((again.body as { error: { code: string } }).error.code, "device_disabled");
      },
    );

    await t.step("a device id naming a broker user that is not a device is refused", async () => {
      for (const deviceId of [TEST_DYNSEC_ADMIN.username, INGEST_USERNAME]) {
        const taken = await enroll(cloud, deviceId);
        assert.equal(taken.status, 409, JSON.stringify(taken.body));
        assert.equal((taken.body as { error: { code: string } }).error.code, "device_id_taken");
      }
      // The admin is untouched: its password still works.
      const [listed] = await dynsec(broker, [{ command: "listClients" }]);
      assert.equal(listed.error, undefined);
    });
  } finally {
    for (const client of clients) await client.endAsync(true).catch(() => {});
    await cloud.process.stop();
    await broker.dispose();
  }
});
