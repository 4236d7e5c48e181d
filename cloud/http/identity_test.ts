/**
 * The identity model through the HTTP API (issue 15): enrollment cannot take over a device,
 * scoped and revocable enrollment tokens, approvals, and the lifecycle actions.
 */
import assert from "node:assert/strict";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { deviceTableProvisioner, verifyPassword } from "../broker/credentials.ts";
import { Downlink } from "../broker/downlink.ts";
import { FleetOperations } from "../fleet/operations.ts";
import type { CloudStore } from "../store/store.ts";
import { collectingLogger, readingBatch, RecordingLink, withStore } from "../testing/fixtures.ts";
import { createCloudApp } from "./app.ts";

const ADMIN = "admin-token-for-tests";
const BOOTSTRAP = "enroll-token-for-tests";
const AUTH = { authorization: `Bearer ${ADMIN}` };

interface Harness {
  store: CloudStore;
  link: RecordingLink;
  revoked: string[];
  admin: (method: string, path: string, body?: unknown, headers?: HeadersInit) => Promise<Response>;
  enroll: (body: Record<string, unknown>) => Promise<Response>;
}

async function withApp(fn: (h: Harness) => Promise<void>): Promise<void> {
  await withStore(async (store) => {
    const link = new RecordingLink();
    const { logger } = collectingLogger();
    const revoked: string[] = [];
    const table = deviceTableProvisioner();
    // Records what the broker is asked to revoke.
    const provisioner = {
      ...table,
      revoke: (id: string) => {
        revoked.push(id);
        return table.revoke(id);
      },
    };
    const app = createCloudApp({
      store,
      fleet: new FleetOperations({
        store,
        downlink: new Downlink({ link, store, logger }),
        logger,
        provisioner,
      }),
      provisioner,
      logger,
      metrics: new MetricsRegistry(),
      version: "test",
      adminToken: ADMIN,
      enrollToken: BOOTSTRAP,
      broker: { url: "mqtt://127.0.0.1:1883", protocolVersion: 4 },
    });
    const admin = async (method: string, path: string, body?: unknown, headers: HeadersInit = {}) =>
      await app.request(`http://cloud${path}`, {
        method,
        headers: {
          ...AUTH,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const enroll = async (body: Record<string, unknown>) =>
      await app.request("http://cloud/api/v1/enroll", {
        method: "POST",
        headers: { "content-type": "application/json", "x-real-ip": "192.0.2.7" },
        body: JSON.stringify(body),
      });
    await fn({ store, link, revoked, admin, enroll });
  });
}

const SECRET_A = "device-a-secret-0123456789abcdef0123456789";
const SECRET_B = "attacker-secret-0123456789abcdef0123456789";

async function errorOf(
  response: Response,
  status: number,
): Promise<{ code: string; message: string }> {
  assert.equal(response.status, status, await response.clone().text());
  return (await response.json()).error;
}

async function enrolled(h: Harness, id: string, secret = SECRET_A, token = BOOTSTRAP) {
  const response = await h.enroll({ deviceId: id, token, deviceSecret: secret });
  assert.equal(response.status, 200, await response.clone().text());
  return await response.json();
}

Deno.test("the enrollment token cannot take over an existing device: the request waits for approval and nothing changes", async () => {
  await withApp(async (h) => {
    const first = await enrolled(h, "pi-1");
    const hash = await h.store.passwordHash("pi-1");
    // Another secret with the bootstrap token: held, not issued.
    const attempt = await h.enroll({ deviceId: "pi-1", token: BOOTSTRAP, deviceSecret: SECRET_B });
    assert.equal(attempt.status, 202);
    const pending = await attempt.json();
    assert.equal(pending.status, "pending_approval");
    assert.equal(pending.deviceId, "pi-1");
    assert.equal(attempt.headers.get("retry-after"), "30");
    assert.equal(await h.store.passwordHash("pi-1"), hash, "credentials untouched");
    assert.ok(verifyPassword(first.mqtt.password, hash!), "the device's password still works");
    // No secret at all (an agent before device secrets): refused, nothing recorded.
    const legacy = await errorOf(await h.enroll({ deviceId: "pi-1", token: BOOTSTRAP }), 409);
    assert.equal(legacy.code, "device_exists");
    // A secret without a token: not even a request.
    const anonymous = await errorOf(
      await h.enroll({ deviceId: "pi-1", deviceSecret: SECRET_B }),
      401,
    );
    assert.equal(anonymous.code, "unauthorized");
    // Retrying the same request is the same request (one row, more attempts).
    await h.enroll({ deviceId: "pi-1", token: BOOTSTRAP, deviceSecret: SECRET_B });
    const list = await (await h.admin("GET", "/api/v1/enrollment-requests")).json();
    assert.equal(list.items.length, 1);
    assert.deepEqual(
      [list.items[0].id, list.items[0].attempts, list.items[0].address],
      [pending.requestId, 2, "192.0.2.7"],
    );
    assert.equal((await (await h.admin("GET", "/api/v1/devices/pi-1")).json()).pendingRequests, 1);
  });
});

Deno.test("the device re-enrolls with its own secret, no token needed: new credentials, the old ones refused", async () => {
  await withApp(async (h) => {
    const first = await enrolled(h, "pi-1");
    const again = await h.enroll({ deviceId: "pi-1", deviceSecret: SECRET_A });
    assert.equal(again.status, 200);
    const second = await again.json();
    assert.notEqual(second.mqtt.password, first.mqtt.password);
    const hash = (await h.store.passwordHash("pi-1"))!;
    assert.ok(!verifyPassword(first.mqtt.password, hash));
    assert.ok(verifyPassword(second.mqtt.password, hash));
  });
});

Deno.test("an operator approves a request: the requester becomes the device and the old holder is cut off", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    const pending = await (await h.enroll({
      deviceId: "pi-1",
      token: BOOTSTRAP,
      deviceSecret: SECRET_B,
    })).json();
    const other = await (await h.enroll({
      deviceId: "pi-1",
      token: BOOTSTRAP,
      deviceSecret: "third-party-secret-0123456789abcdef0123",
    })).json();
    const approved = await h.admin(
      "POST",
      `/api/v1/enrollment-requests/${pending.requestId}/approve`,
    );
    assert.equal(approved.status, 200, await approved.clone().text());
    assert.equal((await approved.json()).status, "approved");
    assert.deepEqual(h.revoked, ["pi-1"], "the current broker credentials are revoked");
    assert.equal(await h.store.passwordHash("pi-1"), null);
    // The approved requester's retry gets credentials; the old secret is no longer the device.
    const mine = await h.enroll({ deviceId: "pi-1", token: BOOTSTRAP, deviceSecret: SECRET_B });
    assert.equal(mine.status, 200);
    const old = await h.enroll({ deviceId: "pi-1", token: BOOTSTRAP, deviceSecret: SECRET_A });
    assert.equal(old.status, 202);
    // The device's other pending request was rejected with the approval.
    const rejected = await errorOf(
      await h.enroll({
        deviceId: "pi-1",
        token: BOOTSTRAP,
        deviceSecret: "third-party-secret-0123456789abcdef0123",
      }),
      403,
    );
    assert.equal(rejected.code, "enrollment_rejected");
    assert.match(rejected.message, new RegExp(other.requestId));
    // Deciding again the other way is a conflict; unknown ids are 404.
    assert.equal(
      (await h.admin("POST", `/api/v1/enrollment-requests/${pending.requestId}/reject`)).status,
      409,
    );
    assert.equal((await h.admin("POST", "/api/v1/enrollment-requests/nope/approve")).status, 404);
  });
});

Deno.test("a rejected request is refused on every retry", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    const { requestId } = await (await h.enroll({
      deviceId: "pi-1",
      token: BOOTSTRAP,
      deviceSecret: SECRET_B,
    })).json();
    const rejected = await h.admin("POST", `/api/v1/enrollment-requests/${requestId}/reject`);
    assert.equal((await rejected.json()).status, "rejected");
    for (let i = 0; i < 2; i++) {
      const error = await errorOf(
        await h.enroll({ deviceId: "pi-1", token: BOOTSTRAP, deviceSecret: SECRET_B }),
        403,
      );
      assert.equal(error.code, "enrollment_rejected");
    }
    assert.deepEqual(h.revoked, [], "a rejection changes nothing of the device");
  });
});

Deno.test("scoped tokens: shown once, labels the device cannot override, use count, expiry and revocation", async () => {
  await withApp(async (h) => {
    const created = await h.admin("POST", "/api/v1/enrollment-tokens", {
      name: "north site",
      labels: { site: "north" },
      maxUses: 1,
    });
    assert.equal(created.status, 201, await created.clone().text());
    const token = await created.json();
    assert.match(token.token, /^oet_[\w-]{43}$/);
    assert.deepEqual([token.state, token.uses, token.maxUses], ["active", 0, 1]);
    // Only a hash is stored.
    const rows = await h.store.db.selectFrom("enrollment_tokens").selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(token.token));

    const device = await enrolled(h, "north-1", SECRET_A, token.token);
    assert.equal(device.deviceId, "north-1");
    const detail = await (await h.admin("GET", "/api/v1/devices/north-1")).json();
    assert.deepEqual(detail.labels, { site: "north" });
    assert.equal(detail.enrolledWith, token.id);
    // Re-enrollment keeps the token's labels over the device's own.
    await h.enroll({
      deviceId: "north-1",
      deviceSecret: SECRET_A,
      labels: { site: "south", x: "1" },
    });
    const relabelled = await (await h.admin("GET", "/api/v1/devices/north-1")).json();
    assert.deepEqual(relabelled.labels, { site: "north", x: "1" });

    const usedUp = await errorOf(
      await h.enroll({ deviceId: "north-2", token: token.token, deviceSecret: SECRET_B }),
      401,
    );
    assert.equal(usedUp.code, "token_used_up");
    const expired = await (await h.admin("POST", "/api/v1/enrollment-tokens", {
      name: "old",
      expiresAt: "2020-01-01T00:00:00Z",
    })).json();
    assert.equal(expired.state, "expired");
    assert.equal(
      (await errorOf(
        await h.enroll({ deviceId: "x-1", token: expired.token, deviceSecret: SECRET_B }),
        401,
      )).code,
      "token_expired",
    );
    const open = await (await h.admin("POST", "/api/v1/enrollment-tokens", { name: "open" }))
      .json();
    const revoked = await h.admin("DELETE", `/api/v1/enrollment-tokens/${open.id}`);
    assert.equal((await revoked.json()).state, "revoked");
    assert.equal(
      (await errorOf(
        await h.enroll({ deviceId: "y-1", token: open.token, deviceSecret: SECRET_B }),
        401,
      )).code,
      "token_revoked",
    );
    const list = await (await h.admin("GET", "/api/v1/enrollment-tokens")).json();
    assert.deepEqual(list.items.map((t: { state: string }) => t.state).sort(), [
      "expired",
      "revoked",
      "used_up",
    ]);
    assert.ok(list.items.every((t: Record<string, unknown>) => !("token" in t)));
    // A device a revoked token created stays enrolled and re-enrolls with its secret.
    assert.equal((await h.enroll({ deviceId: "north-1", deviceSecret: SECRET_A })).status, 200);
    // Token input errors name their fields.
    const bad = await h.admin("POST", "/api/v1/enrollment-tokens", { name: "", maxUses: 0 });
    const details = (await bad.json()).error.details.map((d: { field: string }) => d.field);
    assert.deepEqual(details, ["name", "maxUses"]);
    // Its answer holds the token, which the cloud does not keep: no Idempotency-Key.
    const keyed = await h.admin("POST", "/api/v1/enrollment-tokens", { name: "k" }, {
      "idempotency-key": "k1",
    });
    assert.equal((await errorOf(keyed, 400)).code, "idempotency_not_supported");
  });
});

Deno.test("revoke: credentials removed at the broker, enrollment refused even with the secret, until reinstated", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    const revoked = await h.admin("POST", "/api/v1/devices/pi-1/revoke");
    assert.equal(revoked.status, 200);
    const device = await revoked.json();
    assert.equal(device.status, "revoked");
    assert.ok(device.statusChangedAt);
    assert.deepEqual(h.revoked, ["pi-1"]);
    assert.equal(await h.store.passwordHash("pi-1"), null, "the embedded broker refuses it");
    const refused = await errorOf(
      await h.enroll({ deviceId: "pi-1", deviceSecret: SECRET_A }),
      403,
    );
    assert.equal(refused.code, "device_revoked");
    // A token does not help either, and no request is recorded for a revoked device.
    const withToken = await h.enroll({
      deviceId: "pi-1",
      token: BOOTSTRAP,
      deviceSecret: SECRET_B,
    });
    assert.equal((await errorOf(withToken, 403)).code, "device_revoked");
    const list = await (await h.admin("GET", "/api/v1/devices")).json();
    assert.equal(list.items[0].status, "revoked");

    const reinstated = await h.admin("POST", "/api/v1/devices/pi-1/reinstate");
    assert.equal((await reinstated.json()).status, "active");
    assert.equal((await h.enroll({ deviceId: "pi-1", deviceSecret: SECRET_A })).status, 200);
    assert.equal((await h.admin("POST", "/api/v1/devices/ghost/revoke")).status, 404);
  });
});

Deno.test("reinstating with resetSecret makes the next enrollment wait for an approval", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    await h.admin("POST", "/api/v1/devices/pi-1/revoke");
    const reinstated = await h.admin("POST", "/api/v1/devices/pi-1/reinstate", {
      resetSecret: true,
    });
    assert.equal(reinstated.status, 200);
    const again = await h.enroll({ deviceId: "pi-1", token: BOOTSTRAP, deviceSecret: SECRET_A });
    assert.equal(again.status, 202);
  });
});

Deno.test("decommission: listed as decommissioned with its data, refused at enrollment", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    await h.store.commitBatch("pi-1", readingBatch(1, 3));
    const response = await h.admin("POST", "/api/v1/devices/pi-1/decommission");
    const device = await response.json();
    assert.deepEqual([device.status, device.stats.readings], ["decommissioned", 3]);
    assert.equal(
      (await errorOf(await h.enroll({ deviceId: "pi-1", deviceSecret: SECRET_A }), 403)).code,
      "device_decommissioned",
    );
    // Nothing more is stored from it.
    const outcome = await h.store.commitBatch("pi-1", readingBatch(4, 5));
    assert.equal(outcome.refused?.reason, "device_inactive");
  });
});

Deno.test("delete keeping the data: gone from the fleet, data still queryable, a new device numbers after it", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    await h.store.commitBatch("pi-1", readingBatch(1, 5));
    await h.store.commitBatch("pi-1", readingBatch(8, 9)); // after a gap
    const deleted = await h.admin("DELETE", "/api/v1/devices/pi-1?data=keep");
    assert.equal(deleted.status, 200, await deleted.clone().text());
    assert.deepEqual(await deleted.json(), { id: "pi-1", data: "kept", readings: 7, events: 0 });
    assert.deepEqual(h.revoked, ["pi-1"]);
    assert.equal((await h.admin("GET", "/api/v1/devices/pi-1")).status, 404);
    assert.deepEqual((await (await h.admin("GET", "/api/v1/devices")).json()).items, []);
    const kept = await (await h.admin("GET", "/api/v1/readings?device=pi-1")).json();
    assert.equal(kept.items.length, 7);
    // The old secret is gone with the device; a new device needs a token and starts after seq 9.
    const fresh = await enrolled(h, "pi-1", SECRET_B);
    assert.equal(fresh.ackedSeq, 9);
    assert.equal((await (await h.admin("GET", "/api/v1/devices/pi-1")).json()).status, "active");
    assert.equal((await h.admin("DELETE", "/api/v1/devices/ghost?data=keep")).status, 404);
    // data= is required: the operator chooses.
    const missing = await h.admin("DELETE", "/api/v1/devices/pi-1");
    assert.equal((await errorOf(missing, 422)).code, "validation_failed");
  });
});

Deno.test("delete purging the data removes its readings, events and commands; the id starts afresh", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    await h.store.commitBatch("pi-1", readingBatch(1, 5));
    await h.admin("POST", "/api/v1/devices/pi-1/commands", { name: "ping" });
    const deleted = await (await h.admin("DELETE", "/api/v1/devices/pi-1?data=purge")).json();
    assert.deepEqual(deleted, { id: "pi-1", data: "purged", readings: 5, events: 0 });
    assert.deepEqual(
      (await (await h.admin("GET", "/api/v1/readings?device=pi-1")).json()).items,
      [],
    );
    const commands = await h.store.db.selectFrom("commands").selectAll().execute();
    assert.deepEqual(commands, []);
    assert.equal((await enrolled(h, "pi-1", SECRET_B)).ackedSeq, 0);
  });
});

Deno.test("reset position clears a poisoned lag, never lowers the ack, and tells the device", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    await h.store.commitBatch("pi-1", readingBatch(1, 10));
    // Poisoned before the bound existed: a far batch and a far status.
    await h.store.commitBatch("pi-1", readingBatch(9007199254740990, 9007199254740990), {
      maxSeqGap: Number.MAX_SAFE_INTEGER,
    });
    const before = await (await h.admin("GET", "/api/v1/devices/pi-1")).json();
    assert.equal(before.lag, 9007199254740980);
    const reset = await h.admin("POST", "/api/v1/devices/pi-1/reset-position");
    assert.equal(reset.status, 200, await reset.clone().text());
    assert.deepEqual(await reset.json(), {
      ackedSeq: 10,
      lastSeq: 10,
      discarded: { readings: 1, events: 0 },
    });
    const after = await (await h.admin("GET", "/api/v1/devices/pi-1")).json();
    assert.deepEqual([after.lag, after.stats.readings], [0, 10]);
    assert.deepEqual(h.link.on("outpost/v1/pi-1/down/ack").at(-1), { upTo: 10 });
    const lower = await h.admin("POST", "/api/v1/devices/pi-1/reset-position", { ackedSeq: 3 });
    assert.match((await errorOf(lower, 409)).message, /below the 10 the cloud holds/);
    const raised = await (await h.admin("POST", "/api/v1/devices/pi-1/reset-position", {
      ackedSeq: 500,
    })).json();
    assert.equal(raised.ackedSeq, 500);
    const bad = await h.admin("POST", "/api/v1/devices/pi-1/reset-position", { ackedSeq: -1 });
    assert.equal((await errorOf(bad, 422)).code, "validation_failed");
  });
});

Deno.test("a retried command POST with the same Idempotency-Key queues one command", async () => {
  await withApp(async (h) => {
    await enrolled(h, "pi-1");
    const key = { "idempotency-key": "cmd-1" };
    const first = await h.admin("POST", "/api/v1/devices/pi-1/commands", { name: "ping" }, key);
    assert.equal(first.status, 201);
    const { id } = await first.json();
    const again = await h.admin("POST", "/api/v1/devices/pi-1/commands", { name: "ping" }, key);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal((await again.json()).id, id);
    const commands = await (await h.admin("GET", "/api/v1/devices/pi-1/commands")).json();
    assert.equal(commands.items.length, 1);
    const other = await h.admin("POST", "/api/v1/devices/pi-1/commands", { name: "resync" }, key);
    assert.equal((await errorOf(other, 422)).code, "idempotency_key_reused");
    // The key of a failed request is free again.
    const failed = await h.admin("POST", "/api/v1/devices/ghost/commands", { name: "ping" }, {
      "idempotency-key": "cmd-2",
    });
    assert.equal(failed.status, 404);
    await enrolled(h, "ghost", SECRET_B);
    const retried = await h.admin("POST", "/api/v1/devices/ghost/commands", { name: "ping" }, {
      "idempotency-key": "cmd-2",
    });
    assert.equal(retried.status, 201);
  });
});

Deno.test("enrollment and lifecycle routes are in the OpenAPI document, with the Idempotency-Key header", async () => {
  await withApp(async (h) => {
    const doc = await (await h.admin("GET", "/api/openapi.json")).json();
    for (
      const path of [
        "/api/v1/enrollment-tokens",
        "/api/v1/enrollment-tokens/{id}",
        "/api/v1/enrollment-requests",
        "/api/v1/enrollment-requests/{id}/approve",
        "/api/v1/devices/{id}/revoke",
        "/api/v1/devices/{id}/reinstate",
        "/api/v1/devices/{id}/decommission",
        "/api/v1/devices/{id}/reset-position",
      ]
    ) assert.ok(doc.paths[path], path);
    assert.ok(doc.paths["/api/v1/devices/{id}"].delete);
    const command = doc.paths["/api/v1/devices/{id}/commands"].post;
    assert.ok(command.parameters.some((p: { name: string }) => p.name === "Idempotency-Key"));
    assert.ok(doc.paths["/api/v1/enroll"].post.responses["202"]);
  });
});
