import assert from "node:assert/strict";
import { ProvisioningError } from "../credentials.ts";
import type { BrokerLink, UplinkHandler } from "../link.ts";
import { deferredNats, type StartedNats } from "./deferred.ts";

/** A backend that records what reaches it (a stand-in for startNats's result, this module only). */
function recordingBackend() {
  const calls: string[] = [];
  const link: BrokerLink = {
    protocolVersion: 4,
    subscribeUplink(_handler: UplinkHandler) {
      calls.push("subscribe");
      return Promise.resolve();
    },
    publish(topic) {
      calls.push(`publish ${topic}`);
      return Promise.resolve();
    },
    connected: () => true,
    close() {
      calls.push("close");
      return Promise.resolve();
    },
  };
  const started: StartedNats = {
    link,
    provisioner: {
      provision(id) {
        calls.push(`provision ${id}`);
        return Promise.resolve({ username: id, password: "jwt", passwordHash: null });
      },
      endSessions: () => Promise.resolve(),
      revoke: () => Promise.resolve(),
    },
  };
  return { calls, started };
}

const options = { qos: 1 as const, retain: false };

Deno.test("before the cluster is reached: downlink and enrollment fail fast as broker_unavailable, uplink waits", async () => {
  const backend = recordingBackend();
  const { resolve, promise } = Promise.withResolvers<StartedNats>();
  const nats = deferredNats(promise);
  assert.equal(nats.link.connected?.(), false);
  await assert.rejects(
    nats.link.publish("outpost/v1/d1/down/cmd", "{}", options),
    (error) => error instanceof ProvisioningError && error.code === "broker_unavailable",
  );
  await assert.rejects(
    nats.provisioner.provision("d1"),
    (error) => error instanceof ProvisioningError && error.code === "broker_unavailable",
  );
  let subscribed = false;
  const subscribing = nats.link.subscribeUplink(() => Promise.resolve()).then(() => {
    subscribed = true;
  });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(subscribed, false, "uplink must wait for the cluster");

  resolve(backend.started);
  await subscribing;
  assert.equal(nats.link.connected?.(), true);
  await nats.link.publish("outpost/v1/d1/down/cmd", "{}", options);
  assert.equal((await nats.provisioner.provision("d1")).password, "jwt");
  assert.deepEqual(backend.calls, ["subscribe", "publish outpost/v1/d1/down/cmd", "provision d1"]);
  await nats.link.close();
  assert.equal(backend.calls.at(-1), "close");
});

Deno.test("closing before the cluster is reached ends the wait, and a late connection is closed", async () => {
  const backend = recordingBackend();
  const { resolve, promise } = Promise.withResolvers<StartedNats>();
  const nats = deferredNats(promise);
  const subscribing = nats.link.subscribeUplink(() => Promise.resolve());
  await nats.link.close();
  await assert.rejects(subscribing, /stopped before the NATS cluster was reached/);
  resolve(backend.started);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(backend.calls, ["close"]);
});

Deno.test("a backend that cannot start fails the uplink (the cloud then exits naming it)", async () => {
  const nats = deferredNats(Promise.reject(new Error("Authorization Violation")));
  await assert.rejects(
    nats.link.subscribeUplink(() => Promise.resolve()),
    /Authorization Violation/,
  );
  assert.equal(nats.link.connected?.(), false);
});
