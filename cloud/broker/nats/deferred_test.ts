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

Deno.test("before the cluster is reached: downlink and enrollment fail fast as broker_unavailable, uplink starts later", async () => {
  const backend = recordingBackend();
  const { resolve, promise } = Promise.withResolvers<StartedNats>();
  const nats = deferredNats(promise, () => assert.fail("no failure expected"));
  assert.equal(nats.link.connected?.(), false);
  await assert.rejects(
    nats.link.publish("outpost/v1/d1/down/cmd", "{}", options),
    (error) => error instanceof ProvisioningError && error.code === "broker_unavailable",
  );
  await assert.rejects(
    nats.provisioner.provision("d1"),
    (error) => error instanceof ProvisioningError && error.code === "broker_unavailable",
  );
  // Resolves at once (the cloud is ready: API and console work), subscribes once reached.
  await nats.link.subscribeUplink(() => Promise.resolve());
  assert.deepEqual(backend.calls, []);

  resolve(backend.started);
  await new Promise((r) => setTimeout(r, 10));
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
  const failures: unknown[] = [];
  const nats = deferredNats(promise, (error) => failures.push(error));
  await nats.link.subscribeUplink(() => Promise.resolve());
  await nats.link.close();
  resolve(backend.started);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(backend.calls, ["close"], "never subscribed, closed once reached");
  assert.deepEqual(failures, [], "a stop is not a failure");
});

Deno.test("a backend that cannot start is reported, and the link stays disconnected", async () => {
  const failures: unknown[] = [];
  const nats = deferredNats(
    Promise.reject(new Error("Authorization Violation")),
    (error) => failures.push(error),
  );
  await nats.link.subscribeUplink(() => Promise.resolve());
  await new Promise((r) => setTimeout(r, 10));
  assert.match(String(failures[0]), /Authorization Violation/);
  assert.equal(nats.link.connected?.(), false);
});
