import assert from "node:assert/strict";
import { maxBrokerOutageMs, parseChaosArgs, UsageError } from "./options.ts";

Deno.test("no flags give the short profile with a fresh seed and netem", () => {
  const options = parseChaosArgs([]);
  assert.equal(options.profile, "short");
  assert.equal(options.impair, "netem");
  assert.equal(options.broker, "mosquitto");
  assert.ok(options.counts.agent_kill >= 10 && options.counts.cloud_kill >= 5);
  assert.ok(options.counts.broker_restart >= 5 && options.counts.partition >= 3);
  assert.ok(options.counts.disk_full >= 1 && options.counts.skew >= 1);
  assert.ok(options.fuzz >= 10_000);
  assert.equal(options.soakMinutes, 0);
});

Deno.test("counts, seed and profile come from flags; the impair method also from the env", () => {
  const options = parseChaosArgs(
    ["--profile=long", "--seed=42", "--agent-kills=500", "--fuzz=0", "--agents=4"],
    { OUTPOST_CHAOS_IMPAIR: "nft" },
  );
  assert.equal(options.profile, "long");
  assert.equal(options.seed, 42);
  assert.equal(options.counts.agent_kill, 500);
  assert.equal(options.fuzz, 0);
  assert.equal(options.agents, 4);
  assert.equal(options.impair, "nft");
  assert.equal(parseChaosArgs(["--broker=embedded"]).broker, "embedded");
  assert.equal(parseChaosArgs(["--impair=netem"], { OUTPOST_CHAOS_IMPAIR: "nft" }).impair, "netem");
});

Deno.test("bad flags fail with a line naming the flag and the value", () => {
  assert.throws(() => parseChaosArgs(["--agent-kills=many"]), UsageError);
  assert.throws(() => parseChaosArgs(["--agent-kills=many"]), /--agent-kills must be an integer/);
  assert.throws(() => parseChaosArgs(["--profile=medium"]), /'medium'/);
  assert.throws(() => parseChaosArgs(["--impair=tc"]), /netem or nft/);
  assert.throws(() => parseChaosArgs(["--broker=emqx"]), /mosquitto, embedded, nats: .*'emqx'/);
  assert.throws(() => parseChaosArgs(["--broker-partitions=2"]), /needs --broker=nats/);
  assert.throws(() => parseChaosArgs(["--frobnicate"]), /Unknown flag --frobnicate/);
  assert.throws(() => parseChaosArgs(["stray"]), /Unknown argument 'stray'/);
});

Deno.test("a restarted cloud may wait for the broker as long as any broker fault lasts", () => {
  // Regression (long profile): a cloud kill overlapped a 54 s broker pause; the harness gave the
  // restarted cloud 30 s to subscribe and reported a violation, though the cloud subscribed 2 s
  // after the broker (and the cloud itself) resumed.
  for (const profile of ["short", "long"]) {
    const { timing } = parseChaosArgs([`--profile=${profile}`]);
    assert.ok(maxBrokerOutageMs(timing) >= timing.maxPauseMs, profile);
    assert.ok(maxBrokerOutageMs(timing) >= timing.maxDowntimeMs, profile);
  }
  assert.equal(parseChaosArgs(["--profile=long"]).timing.maxPauseMs, 60_000);
});

Deno.test("--broker=nats plans broker node partitions; the other brokers plan none", () => {
  const nats = parseChaosArgs(["--broker=nats"]);
  assert.equal(nats.broker, "nats");
  assert.ok(nats.counts.broker_partition >= 3);
  assert.ok(nats.counts.broker_restart >= 5);
  assert.equal(
    parseChaosArgs(["--broker=nats", "--broker-partitions=0"]).counts.broker_partition,
    0,
  );
  assert.equal(parseChaosArgs([], { OUTPOST_CHAOS_BROKER: "nats" }).counts.broker_partition, 3);
  assert.equal(parseChaosArgs(["--broker=mosquitto"]).counts.broker_partition, 0);
  assert.equal(parseChaosArgs(["--broker=embedded"]).counts.broker_partition, 0);
});
