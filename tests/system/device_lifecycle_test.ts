/**
 * Device identity and lifecycle against a real Mosquitto 2 with dynamic security and a real
 * cloud process (issue 15: the takeover, lag poisoning and decommission cases on this backend;
 * the embedded broker's twin is cloud/broker/embedded_lifecycle_test.ts).
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { topics } from "@outpost/protocol";
import { deviceRoleName } from "@outpost/cloud/broker/mosquitto";
import { dynsec, startMosquitto, startMosquittoCloud } from "../support/mosquitto.ts";
import { postJson } from "../support/process.ts";
import { type CloudHandle, eventually, TEST_ENROLL_TOKEN } from "../support/stack.ts";

interface Credentials {
  url: string;
  username: string;
  password: string;
  protocolVersion: 4 | 5;
}

const SECRET = "device-secret-0123456789abcdef0123456789ab";

async function enroll(cloud: CloudHandle, deviceId: string, secret = SECRET) {
  return await postJson(`${cloud.url}/api/v1/enroll`, {
    deviceId,
    token: TEST_ENROLL_TOKEN,
    deviceSecret: secret,
  });
}

async function credentials(cloud: CloudHandle, deviceId: string): Promise<Credentials> {
  const response = await enroll(cloud, deviceId);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return (response.body as { mqtt: Credentials }).mqtt;
}

function connect(creds: Credentials): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(creds.url, {
    protocolVersion: 5,
    clientId: creds.username,
    username: creds.username,
    password: creds.password,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
}

/** The CONNACK reason code of a refused connection (fails if it connects). */
async function refusedCode(creds: Credentials): Promise<unknown> {
  try {
    const client = await connect(creds);
    await client.endAsync(true);
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  assert.fail(`${creds.username} connected`);
}

function closed(client: mqtt.MqttClient): () => Promise<boolean> {
  let gone = false;
  client.on("close", () => gone = true);
  return () => Promise.resolve(gone);
}

Deno.test("Mosquitto: no takeover, revocation and decommission end sessions at the broker, lag poisoning is refused", async (t) => {
  const broker = await startMosquitto();
  const cloud = await startMosquittoCloud(broker);
  const clients: mqtt.MqttClient[] = [];
  try {
    await t.step("the enrollment token cannot take over a connected device", async () => {
      const mine = await credentials(cloud, "life-a");
      const device = await connect(mine);
      clients.push(device);
      const isClosed = closed(device);
      const attack = await enroll(cloud, "life-a", "attacker-secret-0123456789abcdef01234567");
      assert.equal(attack.status, 202, JSON.stringify(attack.body));
      assert.ok(!("mqtt" in (attack.body as object)));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(await isClosed(), false, "the device keeps its session");
      // Its password still works at the broker (a new session of the same client id replaces
      // the old one, so this one carries on for the next steps).
      await device.endAsync(true);
      clients[0] = await connect(mine);
    });

    await t.step(
      "a batch from=to=9007199254740990 is refused with a note the device receives; the lag stays true",
      async () => {
        const device = clients[0];
        const notes: Record<string, unknown>[] = [];
        device.on("message", (_topic, payload) => notes.push(JSON.parse(payload.toString())));
        await device.subscribeAsync(topics.ack("life-a"), { qos: 1 });
        const reading = {
          type: "reading",
          sensor: "t",
          value: 1,
          unit: "",
          ts: "2026-11-26T10:00:00Z",
        };
        await device.publishAsync(
          topics.batch("life-a"),
          JSON.stringify({
            from: 1,
            to: 2,
            records: [{ seq: 1, ...reading }, { seq: 2, ...reading }],
          }),
          { qos: 1 },
        );
        const seq = 9007199254740990;
        await device.publishAsync(
          topics.batch("life-a"),
          JSON.stringify({ from: seq, to: seq, records: [{ seq, ...reading }] }),
          { qos: 1 },
        );
        await eventually(
          () => Promise.resolve(notes.some((note) => "refused" in note)),
          "the refusal note",
          15_000,
        );
        const note = notes.find((n) => "refused" in n) as {
          upTo: number;
          refused: { reason: string };
        };
        assert.equal(note.refused.reason, "implausible_seq");
        assert.equal(note.upTo, 2);
        const device1 = await cloud.admin<
          { ackedSeq: number; lag: number; stats: { readings: number } }
        >(
          "/api/v1/devices/life-a",
        );
        assert.deepEqual(
          [device1.body.ackedSeq, device1.body.lag, device1.body.stats.readings],
          [2, 0, 2],
        );
      },
    );

    await t.step(
      "revoke deletes the dynsec client, drops the session, refuses connect and enrollment",
      async () => {
        const device = clients[0];
        const isClosed = closed(device);
        const mine = await credentials(cloud, "life-a"); // a fresh session to be dropped
        await eventually(isClosed, "the rotated-away session to close", 5_000);
        const current = await connect(mine);
        clients.push(current);
        const currentClosed = closed(current);
        const revoked = await cloud.admin<{ status: string }>("/api/v1/devices/life-a/revoke", {
          method: "POST",
        });
        assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
        assert.equal(revoked.body.status, "revoked");
        await eventually(currentClosed, "the session to be dropped", 5_000);
        assert.equal(await refusedCode(mine), 135);
        const [client, role] = await dynsec(broker, [
          { command: "getClient", username: "life-a" },
          { command: "getRole", rolename: deviceRoleName("life-a") },
        ]);
        assert.equal(client.error, "Client not found");
        assert.equal(role.error, "Role not found");
        assert.equal((await enroll(cloud, "life-a")).status, 403);
        // Reinstated, the device re-enrolls with its secret and connects again.
        await cloud.admin("/api/v1/devices/life-a/reinstate", { method: "POST" });
        const back = await credentials(cloud, "life-a");
        const again = await connect(back);
        clients.push(again);
        assert.ok(again.connected);
      },
    );

    await t.step(
      "decommission drops the session, refuses the device and stores nothing it sends",
      async () => {
        const mine = await credentials(cloud, "life-b");
        const device = await connect(mine);
        const isClosed = closed(device);
        const decommissioned = await cloud.admin<{ status: string }>(
          "/api/v1/devices/life-b/decommission",
          { method: "POST" },
        );
        assert.equal(decommissioned.body.status, "decommissioned");
        await eventually(isClosed, "the session to be dropped", 5_000);
        assert.equal(await refusedCode(mine), 135);
        assert.equal((await enroll(cloud, "life-b")).status, 403);
        const listed = await cloud.admin<{ items: { id: string; status: string }[] }>(
          "/api/v1/devices",
        );
        assert.equal(listed.body.items.find((d) => d.id === "life-b")?.status, "decommissioned");
      },
    );

    await t.step(
      "approving a request revokes the old holder at the broker and lets the requester in",
      async () => {
        const old = await credentials(cloud, "life-c");
        const holder = await connect(old);
        const holderClosed = closed(holder);
        const requester = "requester-secret-0123456789abcdef0123456";
        const pending = await enroll(cloud, "life-c", requester);
        assert.equal(pending.status, 202);
        const requestId = (pending.body as { requestId: string }).requestId;
        const approved = await cloud.admin(`/api/v1/enrollment-requests/${requestId}/approve`, {
          method: "POST",
        });
        assert.equal(approved.status, 200, JSON.stringify(approved.body));
        await eventually(holderClosed, "the old holder's session to be dropped", 5_000);
        assert.equal(await refusedCode(old), 135);
        const granted = await enroll(cloud, "life-c", requester);
        assert.equal(granted.status, 200, JSON.stringify(granted.body));
        const client = await connect((granted.body as { mqtt: Credentials }).mqtt);
        clients.push(client);
        assert.ok(client.connected);
      },
    );

    await t.step("delete removes the device from the broker and the fleet", async () => {
      const mine = await credentials(cloud, "life-d");
      const deleted = await cloud.admin("/api/v1/devices/life-d?data=purge", { method: "DELETE" });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.equal(await refusedCode(mine), 135);
      const [client] = await dynsec(broker, [{ command: "getClient", username: "life-d" }]);
      assert.equal(client.error, "Client not found");
      assert.equal((await cloud.admin("/api/v1/devices/life-d")).status, 404);
    });
  } finally {
    for (const client of clients) await client.endAsync(true).catch(() => {});
    await cloud.process.stop();
    await broker.dispose();
  }
});
