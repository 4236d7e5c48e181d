/**
 * Rollouts and jobs, driven step by step with a fake clock over a real store (part of
 * `storeCases`, so they run on libSQL and PostgreSQL): waves and bake, an offline device that
 * joins later, the failure threshold, pause/resume, rollback, a per-device PUT during a rollout,
 * apply timeouts, resends; a job's rate, cancel and offline devices. Devices answer as agents
 * do: reported records and command results committed through `commitBatch`.
 * @module
 */
import assert from "node:assert/strict";
import { topics } from "@outpost/protocol";
import { deviceTableProvisioner } from "../broker/credentials.ts";
import { Downlink } from "../broker/downlink.ts";
import { FleetError } from "../fleet/errors.ts";
import { FleetDriver } from "../fleet/driver.ts";
import { FleetOperations } from "../fleet/operations.ts";
import type { RolloutRequest, RolloutView } from "../fleet/rollouts.ts";
import type { CloudStore } from "../store/store.ts";
import type { StoreCase } from "./cases.ts";
import { reportRecord } from "./device_cases.ts";
import { collectingLogger, RecordingLink } from "./fixtures.ts";
import { parsed } from "./selectors.ts";

const START = Date.UTC(2026, 10, 26, 10, 0, 0);

interface Fleet {
  store: CloudStore;
  link: RecordingLink;
  fleet: FleetOperations;
  downlink: Downlink;
  /** Moves the fake clock. */
  tick(ms: number): void;
  /** One step of the driver. */
  step(): Promise<void>;
  enroll(id: string, labels?: Record<string, string>, online?: boolean): Promise<void>;
  online(id: string): Promise<void>;
  offline(id: string): Promise<void>;
  /** The device answers its current desired version. */
  answer(id: string, outcome?: "applied" | "failed", reason?: string): Promise<void>;
  /** The device answers every delivered command. */
  answerCommands(id: string, status?: "succeeded" | "failed"): Promise<number>;
  rollout(
    request: Partial<Omit<RolloutRequest, "selector">> & { selector: string },
  ): Promise<string>;
  get(id: string): Promise<RolloutView>;
  desiredOf(id: string): Promise<{ version: number; desired: Record<string, unknown> }>;
  /** Desired versions published to the device, in order. */
  published(id: string): number[];
}

function harness(store: CloudStore): Fleet {
  let now = START;
  const link = new RecordingLink();
  const { logger } = collectingLogger();
  const downlink = new Downlink({ link, store, logger });
  const fleet = new FleetOperations({
    store,
    downlink,
    provisioner: deviceTableProvisioner(),
    logger,
    now: () => now,
    resendAfterMs: 60_000,
  });
  const driver = new FleetDriver({ rollouts: fleet.rollouts, jobs: fleet.jobs, logger });
  const self: Fleet = {
    store,
    link,
    fleet,
    downlink,
    tick: (ms) => void (now += ms),
    step: () => driver.step(),
    async enroll(id, labels = {}, online = true) {
      await store.enrollDevice({ id, passwordHash: null, labels }, now);
      if (online) await self.online(id);
    },
    async online(id) {
      await store.applyStatus(id, { online: true }, { now });
    },
    async offline(id) {
      await store.markOffline(id);
    },
    async answer(id, outcome = "applied", reason) {
      const state = (await store.downlinkState(id))!;
      const seq = state.ackedSeq + 1;
      const outcome_ = await store.commitBatch(id, {
        from: seq,
        to: seq,
        records: [reportRecord(seq, state.desiredVersion, outcome, reason)],
      }, { now });
      assert.equal(outcome_.ackedSeq, seq);
    },
    async answerCommands(id, status = "succeeded") {
      const delivered = (await store.unansweredCommands(id)).filter((c) =>
        c.status === "delivered"
      );
      if (delivered.length === 0) return 0;
      const first = (await store.downlinkState(id))!.ackedSeq + 1;
      await store.commitBatch(id, {
        from: first,
        to: first + delivered.length - 1,
        records: delivered.map((command, i) => ({
          seq: first + i,
          type: "command_result" as const,
          commandId: command.id,
          status,
          ...(status === "failed" ? { error: "no" } : {}),
          ts: "2026-11-26T10:00:00Z",
        })),
      }, { now });
      return delivered.length;
    },
    async rollout(request) {
      const created = await fleet.rollouts.create({
        name: "test",
        desired: { logLevel: "debug" },
        waves: [{ percent: 100, bakeSeconds: 0 }],
        failureThresholdPercent: 100,
        applyTimeoutSeconds: 900,
        ...request,
        selector: parsed(request.selector),
      });
      return created.id;
    },
    async get(id) {
      return (await fleet.rollouts.get(id))!;
    },
    async desiredOf(id) {
      const state = (await store.downlinkState(id))!;
      return { version: state.desiredVersion, desired: state.desired };
    },
    published(id) {
      return link.on(topics.desired(id)).map((p) => (p as { version: number }).version);
    },
  };
  return self;
}

function waveStates(rollout: RolloutView): string[] {
  return rollout.waves.map((w) => w.state);
}

async function refused(promise: Promise<unknown>, code: "not_found" | "conflict") {
  await assert.rejects(promise, (error) => error instanceof FleetError && error.code === code);
}

export const fleetCases: StoreCase[] = [
  {
    name: "a rollout starts its waves in id order, waits for answers and the bake, then succeeds",
    async run(store) {
      const f = harness(store);
      for (let i = 0; i < 10; i++) await f.enroll(`b-${i}`, { site: "berlin" });
      await f.enroll("p-0", { site: "paris" });
      const id = await f.rollout({
        selector: "site=berlin",
        desired: { logLevel: "debug", sampling: { every: 5 } },
        waves: [{ percent: 30, bakeSeconds: 60 }, { percent: 100, bakeSeconds: 0 }],
      });
      let rollout = await f.get(id);
      assert.deepEqual(rollout.counts, {
        targeted: 10,
        pending: 10,
        applied: 0,
        failed: 0,
        offline: 0,
        cancelled: 0,
      });
      assert.deepEqual(rollout.waves.map((w) => w.size), [3, 7]);

      await f.step();
      rollout = await f.get(id);
      assert.deepEqual(waveStates(rollout), ["running", "waiting"]);
      for (const device of ["b-0", "b-1", "b-2"]) {
        assert.deepEqual(await f.desiredOf(device), {
          version: 1,
          desired: { logLevel: "debug", sampling: { every: 5 } },
        });
        assert.deepEqual(f.published(device), [1]);
      }
      assert.deepEqual(f.published("b-3"), [], "wave 1 has not started");
      assert.equal((await f.desiredOf("p-0")).version, 0, "not targeted");

      await f.answer("b-0");
      await f.answer("b-1");
      await f.step();
      assert.deepEqual(waveStates(await f.get(id)), ["running", "waiting"], "b-2 has not answered");
      await f.answer("b-2");
      await f.step();
      rollout = await f.get(id);
      assert.deepEqual(waveStates(rollout), ["baking", "waiting"]);
      assert.ok(rollout.waves[0].answeredAt);
      f.tick(59_000);
      await f.step();
      assert.deepEqual(waveStates(await f.get(id)), ["baking", "waiting"], "still baking");
      f.tick(2_000);
      await f.step();
      rollout = await f.get(id);
      assert.deepEqual(waveStates(rollout), ["completed", "running"]);
      assert.equal(rollout.waves[0].counts.applied, 3);
      assert.ok(rollout.waves[1].startedAt);
      for (let i = 3; i < 10; i++) await f.answer(`b-${i}`);
      await f.step();
      rollout = await f.get(id);
      assert.equal(rollout.state, "succeeded");
      assert.deepEqual(waveStates(rollout), ["completed", "completed"]);
      assert.deepEqual(rollout.counts, {
        targeted: 10,
        pending: 0,
        applied: 10,
        failed: 0,
        offline: 0,
        cancelled: 0,
      });
      assert.ok(rollout.finishedAt);
    },
  },
  {
    name:
      "a device offline when its wave starts counts as offline, does not hold the rollout, and applies it when it comes back",
    async run(store) {
      const f = harness(store);
      await f.enroll("a", { role: "gw" });
      await f.enroll("b", { role: "gw" }, false);
      await f.enroll("c", { role: "gw" });
      await f.enroll("d", { role: "gw" });
      const id = await f.rollout({
        selector: "role=gw",
        desired: { retentionDays: 7 },
        waves: [{ percent: 50, bakeSeconds: 0 }, { percent: 100, bakeSeconds: 0 }],
      });
      await f.step();
      let rollout = await f.get(id);
      assert.equal(rollout.counts.offline, 1);
      assert.equal((await f.desiredOf("b")).version, 1, "stored for the offline device");
      await f.answer("a");
      await f.step(); // wave 0 answered by its online device, no bake: wave 1 starts
      await f.step();
      rollout = await f.get(id);
      assert.deepEqual(waveStates(rollout), ["completed", "running"]);
      await f.answer("c");
      await f.answer("d");
      await f.step();
      rollout = await f.get(id);
      assert.equal(rollout.state, "succeeded");
      assert.deepEqual(
        { applied: rollout.counts.applied, offline: rollout.counts.offline },
        { applied: 3, offline: 1 },
      );

      // Days later: b reconnects; the downlink re-sends what it has not applied, it answers.
      f.tick(3 * 86_400_000);
      const before = f.published("b").length;
      await f.online("b");
      await f.downlink.resume("b");
      assert.equal(f.published("b").length, before + 1);
      assert.equal(f.published("b").at(-1), 1);
      await f.answer("b");
      rollout = await f.get(id);
      assert.deepEqual(rollout.counts, {
        targeted: 4,
        pending: 0,
        applied: 4,
        failed: 0,
        offline: 0,
        cancelled: 0,
      });
    },
  },
  {
    name:
      "failures above the threshold abort the rollout: later waves are skipped and unanswered devices get their old values back",
    async run(store) {
      const f = harness(store);
      for (let i = 0; i < 10; i++) await f.enroll(`d-${i}`, { fleet: "x" }, i !== 4);
      await f.fleet.setDesired("d-1", { logLevel: "info" });
      const id = await f.rollout({
        selector: "fleet=x",
        desired: { logLevel: "debug" },
        waves: [{ percent: 50, bakeSeconds: 0 }, { percent: 100, bakeSeconds: 0 }],
        failureThresholdPercent: 20,
      });
      await f.step();
      await f.answer("d-0");
      await f.step();
      assert.equal((await f.get(id)).state, "running", "no failure yet");
      await f.answer("d-2", "failed", "logLevel 'debug' is not allowed here");
      await f.step();
      // 1 failure among 2 answers is 50%, above 20%.
      const rollout = await f.get(id);
      assert.equal(rollout.state, "aborted");
      assert.match(rollout.reason ?? "", /1 of 2 devices that answered failed \(50\.0%\)/);
      assert.deepEqual(waveStates(rollout), ["running", "skipped"]);
      assert.deepEqual(rollout.counts, {
        targeted: 10,
        pending: 0,
        applied: 1,
        failed: 1,
        offline: 0,
        cancelled: 8,
      });
      // Unanswered devices of the started wave get their previous values as a new version…
      assert.deepEqual(await f.desiredOf("d-1"), { version: 3, desired: { logLevel: "info" } });
      assert.deepEqual(await f.desiredOf("d-3"), { version: 2, desired: {} });
      // …the offline one too, so it never applies the change when it comes back…
      assert.deepEqual(await f.desiredOf("d-4"), { version: 2, desired: {} });
      await f.online("d-4");
      await f.downlink.resume("d-4");
      assert.deepEqual(f.link.on(topics.desired("d-4")).at(-1), { version: 2, desired: {} });
      // …and the wave that never started changed nothing.
      assert.deepEqual(await f.desiredOf("d-7"), { version: 0, desired: {} });
      assert.deepEqual(f.published("d-7"), []);
      // What answered stays as answered.
      assert.deepEqual(await f.desiredOf("d-0"), { version: 1, desired: { logLevel: "debug" } });
      await refused(f.fleet.rollouts.pause(id), "conflict");
      await refused(f.fleet.rollouts.resume(id), "conflict");
      await f.fleet.rollouts.abort(id); // aborting again changes nothing
      assert.equal((await f.get(id)).counts.cancelled, 8);
    },
  },
  {
    name: "a paused rollout starts no wave until it is resumed; a finished one cannot be paused",
    async run(store) {
      const f = harness(store);
      for (const id of ["a", "b"]) await f.enroll(id, { x: "1" });
      const id = await f.rollout({
        selector: "x=1",
        waves: [{ percent: 50, bakeSeconds: 0 }, { percent: 100, bakeSeconds: 0 }],
      });
      await f.step();
      await f.fleet.rollouts.pause(id);
      await f.fleet.rollouts.pause(id); // pausing a paused rollout is a no-op
      await f.answer("a");
      await f.step();
      await f.step();
      let rollout = await f.get(id);
      assert.equal(rollout.state, "paused");
      assert.equal(rollout.counts.applied, 1, "answers still count while paused");
      assert.deepEqual(waveStates(rollout), ["running", "waiting"]);
      assert.deepEqual(f.published("b"), []);
      await f.fleet.rollouts.resume(id);
      await f.step();
      rollout = await f.get(id);
      assert.deepEqual(waveStates(rollout), ["completed", "running"]);
      assert.deepEqual(f.published("b"), [1]);
      await f.answer("b");
      await f.step();
      assert.equal((await f.get(id)).state, "succeeded");
      await refused(f.fleet.rollouts.pause(id), "conflict");
      await refused(f.fleet.rollouts.abort(id), "conflict");
      await refused(f.fleet.rollouts.pause("no-such-rollout"), "not_found");
    },
  },
  {
    name:
      "a rollback restores, as a new version, the keys the rollout changed on the devices it changed, except keys changed since",
    async run(store) {
      const f = harness(store);
      for (const id of ["a", "b", "c"]) await f.enroll(id, { site: "s" });
      await f.enroll("other", {});
      await f.fleet.setDesired("a", { logLevel: "info", keep: 1 });
      await f.fleet.setDesired("b", { logLevel: "info" });
      f.tick(1000);
      const id = await f.rollout({
        selector: "site=s",
        desired: { logLevel: "debug", added: true, keep: null },
      });
      await f.step();
      for (const device of ["a", "b", "c"]) await f.answer(device);
      await f.step();
      assert.equal((await f.get(id)).state, "succeeded");
      assert.deepEqual((await f.desiredOf("a")).desired, { logLevel: "debug", added: true });
      // After the rollout, someone sets a's logLevel by hand.
      await f.fleet.setDesired("a", { logLevel: "warn", added: true });

      const rollback = await f.fleet.rollouts.rollback(id);
      assert.equal(rollback.targeted, 3);
      await refused(f.fleet.rollouts.rollback(id), "conflict");
      await f.step();
      assert.deepEqual(await f.desiredOf("a"), {
        version: 4,
        desired: { logLevel: "warn", keep: 1 },
      });
      assert.deepEqual(await f.desiredOf("b"), { version: 3, desired: { logLevel: "info" } });
      assert.deepEqual(await f.desiredOf("c"), { version: 2, desired: {} });
      assert.equal((await f.desiredOf("other")).version, 0);
      for (const device of ["a", "b", "c"]) await f.answer(device);
      await f.step();
      const back = await f.get(rollback.id);
      assert.equal(back.kind, "rollback");
      assert.equal(back.rollbackOf, id);
      assert.equal(back.state, "succeeded");
      assert.equal(back.counts.applied, 3);
      assert.equal((await f.get(id)).rolledBackBy, rollback.id);
    },
  },
  {
    name: "rolling back a running rollout aborts it first and restores only what it had changed",
    async run(store) {
      const f = harness(store);
      for (const id of ["a", "b", "c", "d"]) await f.enroll(id, { site: "s" });
      const id = await f.rollout({
        selector: "site=s",
        desired: { mode: "fast" },
        waves: [{ percent: 50, bakeSeconds: 0 }, { percent: 100, bakeSeconds: 0 }],
      });
      await f.step();
      await f.answer("a");
      const rollback = await f.fleet.rollouts.rollback(id);
      const original = await f.get(id);
      assert.equal(original.state, "aborted");
      assert.equal(original.reason, "aborted to roll it back");
      assert.deepEqual(await f.desiredOf("b"), { version: 2, desired: {} }, "b was withdrawn");
      assert.equal(rollback.targeted, 1, "only a had applied it");
      await f.step();
      assert.deepEqual(await f.desiredOf("a"), { version: 2, desired: {} });
      assert.deepEqual(await f.desiredOf("c"), { version: 0, desired: {} });
    },
  },
  {
    name:
      "a per-device PUT during a rollout wins for the keys it sets; the rollout keeps the keys it does not",
    async run(store) {
      const f = harness(store);
      await f.enroll("a", { g: "1" });
      await f.enroll("b", { g: "1" });
      const id = await f.rollout({
        selector: "g=1",
        desired: { logLevel: "debug", retentionDays: 7 },
        waves: [{ percent: 50, bakeSeconds: 0 }, { percent: 100, bakeSeconds: 0 }],
      });
      await f.step();
      assert.deepEqual((await f.desiredOf("a")).desired, { logLevel: "debug", retentionDays: 7 });
      // a's wave started: the PUT replaces its desired state but the rollout keeps its keys.
      f.tick(1000);
      assert.equal(await f.fleet.setDesired("a", { logLevel: "warn" }), 2);
      assert.deepEqual(await f.desiredOf("a"), {
        version: 2,
        desired: { logLevel: "warn", retentionDays: 7 },
      });
      // b's wave has not started: the PUT's keys are pinned against the rollout.
      await f.fleet.setDesired("b", { retentionDays: 3 });
      await f.answer("a"); // answers version 2, which holds the rollout's retentionDays
      await f.step();
      await f.step();
      assert.deepEqual(await f.desiredOf("b"), {
        version: 2,
        desired: { retentionDays: 3, logLevel: "debug" },
      });
      await f.answer("b");
      await f.step();
      const rollout = await f.get(id);
      assert.equal(rollout.state, "succeeded");
      assert.equal(rollout.counts.applied, 2);
      // Once the rollout is over a PUT is a plain replacement again.
      await f.fleet.setDesired("a", { logLevel: "error" });
      assert.deepEqual((await f.desiredOf("a")).desired, { logLevel: "error" });
    },
  },
  {
    name:
      "an online device that never answers fails after the apply timeout; an unanswered one is sent its state again meanwhile",
    async run(store) {
      const f = harness(store);
      await f.enroll("quiet", { t: "1" });
      await f.enroll("away", { t: "1" }, false);
      const id = await f.rollout({ selector: "t=1", applyTimeoutSeconds: 300 });
      await f.step();
      assert.deepEqual(f.published("quiet"), [1]);
      f.tick(61_000);
      await f.step();
      assert.deepEqual(f.published("quiet"), [1, 1], "sent again after a minute");
      assert.deepEqual(f.published("away"), [1], "an offline device is not resent to");
      f.tick(240_000);
      await f.step();
      const rollout = await f.get(id);
      assert.deepEqual(
        { failed: rollout.counts.failed, offline: rollout.counts.offline },
        { failed: 1, offline: 1 },
      );
      assert.equal(rollout.state, "succeeded", "the wave's online device answered (by timeout)");
      const target = await store.db.selectFrom("rollout_targets").select("reason")
        .where("device_id", "=", "quiet").executeTakeFirstOrThrow();
      assert.equal(target.reason, "no answer within 300 s while online");
    },
  },
  {
    name: "a rollout whose selector matches nothing succeeds at once with no target",
    async run(store) {
      const f = harness(store);
      await f.enroll("a", { site: "x" });
      const id = await f.rollout({ selector: "site=nowhere" });
      const rollout = await f.get(id);
      assert.equal(rollout.state, "succeeded");
      assert.equal(rollout.counts.targeted, 0);
      const page = await f.fleet.rollouts.list({ limit: 10 });
      assert.deepEqual(page.items.map((r) => r.id), [id]);
    },
  },
  {
    name: "a job releases its commands at its rate and succeeds when every device answered",
    async run(store) {
      const f = harness(store);
      for (let i = 0; i < 10; i++) await f.enroll(`j-${i}`, { site: "b" });
      const job = await f.fleet.jobs.create({
        name: "ping all",
        selector: parsed("site=b"),
        command: { name: "ping" },
        ratePerMinute: 6,
      });
      assert.equal(job.targeted, 10);
      let counts = (await f.fleet.jobs.get(job.id))!.counts;
      assert.deepEqual(counts, {
        targeted: 10,
        queued: 10,
        scheduled: 10,
        delivered: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
      });
      await f.step();
      counts = (await f.fleet.jobs.get(job.id))!.counts;
      assert.equal(counts.delivered, 1, "the first at once");
      assert.equal(counts.scheduled, 9);
      assert.equal(f.link.on(topics.command("j-0")).length, 1);
      f.tick(20_000);
      await f.step();
      assert.equal((await f.fleet.jobs.get(job.id))!.counts.delivered, 3, "6/min for 20 s: 2 more");
      f.tick(40_000);
      await f.step();
      assert.equal((await f.fleet.jobs.get(job.id))!.counts.delivered, 7);
      for (let i = 0; i < 10; i++) await f.answerCommands(`j-${i}`);
      f.tick(30_000);
      await f.step();
      let view = (await f.fleet.jobs.get(job.id))!;
      assert.equal(view.counts.succeeded, 7);
      assert.equal(view.counts.delivered, 3, "90 s at 6/min: the last 3 released");
      assert.equal(view.state, "running");
      for (let i = 0; i < 10; i++) await f.answerCommands(`j-${i}`);
      await f.step();
      view = (await f.fleet.jobs.get(job.id))!;
      assert.equal(view.state, "succeeded");
      assert.ok(view.finishedAt);
    },
  },
  {
    name: "cancelling a job cancels its commands not delivered yet and keeps the rest",
    async run(store) {
      const f = harness(store);
      for (let i = 0; i < 5; i++) await f.enroll(`k-${i}`, { r: "1" }, i !== 1);
      const job = await f.fleet.jobs.create({
        name: "resync",
        selector: parsed("r=1"),
        command: { name: "resync" },
        ratePerMinute: 2,
      });
      await f.step();
      f.tick(30_000);
      await f.step(); // k-0 delivered, k-1 queued (offline)
      let counts = (await f.fleet.jobs.get(job.id))!.counts;
      assert.deepEqual(
        { delivered: counts.delivered, queued: counts.queued, scheduled: counts.scheduled },
        { delivered: 1, queued: 4, scheduled: 3 },
      );
      assert.equal(await f.fleet.jobs.cancel(job.id), 4);
      const view = (await f.fleet.jobs.get(job.id))!;
      assert.equal(view.state, "cancelled");
      counts = view.counts;
      assert.deepEqual(
        { delivered: counts.delivered, cancelled: counts.cancelled, queued: counts.queued },
        { delivered: 1, cancelled: 4, queued: 0 },
      );
      // The offline device never gets its cancelled command.
      await f.online("k-1");
      await f.downlink.resume("k-1");
      assert.deepEqual(f.link.on(topics.command("k-1")), []);
      // The delivered one still answers.
      assert.equal(await f.answerCommands("k-0"), 1);
      assert.equal((await f.fleet.jobs.get(job.id))!.counts.succeeded, 1);
      await refused(f.fleet.jobs.cancel(job.id), "conflict");
      await refused(f.fleet.jobs.cancel("nope"), "not_found");
    },
  },
  {
    name:
      "a job waits for its offline devices and ends failed when one of them fails after it comes back",
    async run(store) {
      const f = harness(store);
      await f.enroll("on-1", { j: "1" });
      await f.enroll("on-2", { j: "1" });
      await f.enroll("off", { j: "1" }, false);
      const job = await f.fleet.jobs.create({
        name: "ping",
        selector: parsed("j=1"),
        command: { name: "ping" },
      });
      await f.step();
      await f.answerCommands("on-1");
      await f.answerCommands("on-2");
      await f.step();
      let view = (await f.fleet.jobs.get(job.id))!;
      assert.equal(view.state, "running");
      assert.deepEqual(
        { succeeded: view.counts.succeeded, queued: view.counts.queued },
        { succeeded: 2, queued: 1 },
      );
      f.tick(86_400_000);
      await f.online("off");
      await f.downlink.resume("off");
      assert.equal(f.link.on(topics.command("off")).length, 1);
      await f.answerCommands("off", "failed");
      await f.step();
      view = (await f.fleet.jobs.get(job.id))!;
      assert.equal(view.state, "failed");
      assert.equal(view.counts.failed, 1);
    },
  },
];
