/**
 * Fleet operations end to end, with real agents through a real Mosquitto (dynamic security):
 * agents enroll with `OUTPOST_LABELS`; a rollout over a selector goes out in two waves with a
 * bake between them, reaches a device that is offline when its wave starts once it comes
 * online (and the counts say so); a rollout with a value the agents refuse is reported failed
 * with the agent's reason and aborts itself, leaving the agents on their working settings; a job
 * runs a command on every matching device.
 *
 * Needs the Debian package `mosquitto`.
 */
import assert from "node:assert/strict";
import { startMosquitto, startMosquittoCloud, type TestMosquitto } from "../support/mosquitto.ts";
import { postJson } from "../support/process.ts";
import {
  type AgentHandle,
  type CloudHandle,
  eventually,
  startAgentProcess,
  TEST_ENROLL_TOKEN,
} from "../support/stack.ts";

interface Counts {
  targeted: number;
  pending: number;
  applied: number;
  failed: number;
  offline: number;
  cancelled: number;
}

interface Rollout {
  state: string;
  reason: string | null;
  counts: Counts;
  waves: {
    state: string;
    size: number;
    startedAt: string | null;
    answeredAt: string | null;
    completedAt: string | null;
  }[];
}

async function rollout(cloud: CloudHandle, id: string): Promise<Rollout> {
  const { status, body } = await cloud.admin<Rollout>(`/api/v1/rollouts/${id}`);
  assert.equal(status, 200);
  return body;
}

async function agentConfig(agent: AgentHandle) {
  const response = await fetch(`${agent.url}/api/v1/config`);
  return await response.json() as {
    desired: Record<string, unknown>;
    desiredVersion: number;
    appliedVersion: number;
    lastFailure?: { version: number; reason: string };
  };
}

const GATEWAY = { OUTPOST_LABELS: "role=gateway,site=berlin" };

Deno.test({
  name:
    "Mosquitto: a rollout in waves reaches agents by label, a late device when it comes online, and a refused value aborts a rollout",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    let broker: TestMosquitto | undefined;
    let cloud: CloudHandle | undefined;
    const agents: AgentHandle[] = [];
    try {
      broker = await startMosquitto();
      cloud = await startMosquittoCloud(broker);
      for (const id of ["gw-1", "gw-2", "gw-3", "gw-late"]) {
        agents.push(await startAgentProcess({ deviceId: id, cloudUrl: cloud.url, env: GATEWAY }));
      }
      // gw-late enrolled (with its device secret) and went offline: it comes back later.
      await eventually(async () => {
        const { body } = await cloud!.admin<{ online: boolean }>("/api/v1/devices/gw-late");
        return body.online;
      }, "gw-late online once");
      const late = agents[3];
      await late.process.stop();
      // A sensor that no gateway selector matches.
      const enrolled = await postJson(`${cloud.url}/api/v1/enroll`, {
        deviceId: "sensor-1",
        token: TEST_ENROLL_TOKEN,
        labels: { role: "sensor", site: "berlin" },
      });
      assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
      await eventually(async () => {
        const { body } = await cloud!.admin<{ counts: { online: number; total: number } }>(
          "/api/v1/devices?selector=role%3Dgateway",
        );
        return body.counts.total === 4 && body.counts.online === 3;
      }, "three gateway agents online, four gateways enrolled");

      let id = "";
      await t.step(
        "the rollout goes out in waves with a bake, the late device counts offline",
        async () => {
          const created = await cloud!.admin<{ id: string; targeted: number }>("/api/v1/rollouts", {
            method: "POST",
            body: JSON.stringify({
              name: "debug and 9 days",
              selector: "role=gateway,site in (berlin)",
              desired: { logLevel: "debug", retentionDays: 9 },
              waves: [{ percent: 50, bakeSeconds: 2 }, { percent: 100 }],
              failureThresholdPercent: 50,
            }),
          });
          assert.equal(created.status, 201, JSON.stringify(created.body));
          assert.equal(created.body.targeted, 4);
          id = created.body.id;
          await eventually(
            async () => (await rollout(cloud!, id)).state === "succeeded",
            "the rollout to succeed",
            60_000,
          );
          const done = await rollout(cloud!, id);
          assert.deepEqual(done.counts, {
            targeted: 4,
            pending: 0,
            applied: 3,
            failed: 0,
            offline: 1,
            cancelled: 0,
          });
          assert.deepEqual(done.waves.map((w) => [w.state, w.size]), [
            ["completed", 2],
            ["completed", 2],
          ]);
          const bakeMs = Date.parse(done.waves[1].startedAt!) -
            Date.parse(done.waves[0].answeredAt!);
          assert.ok(bakeMs >= 2000, `wave 2 started ${bakeMs} ms after wave 1 was answered`);
          for (const agent of agents.slice(0, 3)) {
            const config = await agentConfig(agent);
            assert.deepEqual(
              config.desired,
              { logLevel: "debug", retentionDays: 9 },
              agent.deviceId,
            );
            assert.equal(config.appliedVersion, 1, agent.deviceId);
          }
          const sensor = await cloud!.admin<{ desiredVersion: number }>("/api/v1/devices/sensor-1");
          assert.equal(sensor.body.desiredVersion, 0, "not targeted");
        },
      );

      await t.step("the late device applies the change when it comes online", async () => {
        await late.restart();
        await eventually(
          async () => (await rollout(cloud!, id)).counts.applied === 4,
          "the late device to apply the rollout",
          60_000,
        );
        const counts = (await rollout(cloud!, id)).counts;
        assert.equal(counts.offline, 0);
        const lateConfig = await agentConfig(late);
        assert.deepEqual(lateConfig.desired, { logLevel: "debug", retentionDays: 9 });
        assert.equal(lateConfig.appliedVersion, 1);
      });

      await t.step(
        "a value the agents refuse fails with their reason and aborts the rollout",
        async () => {
          const created = await cloud!.admin<{ id: string }>("/api/v1/rollouts", {
            method: "POST",
            body: JSON.stringify({
              name: "bad retention",
              selector: "role=gateway",
              desired: { retentionDays: -1 },
              waves: [{ percent: 25 }, { percent: 100 }],
              failureThresholdPercent: 0,
            }),
          });
          assert.equal(created.status, 201);
          await eventually(
            async () => (await rollout(cloud!, created.body.id)).state === "aborted",
            "the rollout to abort itself",
            60_000,
          );
          const aborted = await rollout(cloud!, created.body.id);
          assert.equal(aborted.counts.failed, 1);
          assert.equal(aborted.counts.cancelled, 3);
          assert.match(aborted.reason ?? "", /1 of 1 devices that answered failed/);
          const device = await cloud!.admin<{
            desiredReports: { version: number; outcome: string; reason?: string }[];
          }>("/api/v1/devices/gw-1");
          assert.deepEqual(device.body.desiredReports[0], {
            version: 2,
            outcome: "failed",
            reason: "retentionDays must be a whole number from 1 to 3650; got -1",
            reportedAt: (device.body.desiredReports[0] as { reportedAt?: string }).reportedAt,
          });
          // The agent keeps its working settings; the others never applied the bad value.
          await eventually(async () => {
            const config = await agentConfig(agents[0]);
            return config.appliedVersion === 1 && config.lastFailure?.version === 2;
          }, "gw-1 to keep version 1 in force");
          await eventually(async () => {
            const config = await agentConfig(agents[1]);
            // gw-2's wave never started: it never got the bad value.
            return config.desiredVersion === 1;
          }, "gw-2 untouched");
        },
      );

      await t.step("a job runs a command on every matching device", async () => {
        const created = await cloud!.admin<{ id: string; targeted: number }>("/api/v1/jobs", {
          method: "POST",
          body: JSON.stringify({ selector: "role=gateway", command: { name: "ping" } }),
        });
        assert.equal(created.status, 201);
        assert.equal(created.body.targeted, 4);
        await eventually(
          async () => {
            const { body } = await cloud!.admin<{ state: string }>(
              `/api/v1/jobs/${created.body.id}`,
            );
            return body.state === "succeeded";
          },
          "the job to succeed",
          60_000,
        );
        const { body } = await cloud!.admin<{ counts: Record<string, number> }>(
          `/api/v1/jobs/${created.body.id}`,
        );
        assert.equal(body.counts.succeeded, 4);
      });
    } finally {
      for (const agent of agents) await agent.process.stop().catch(() => {});
      await cloud?.process.stop().catch(() => {});
      await broker?.dispose().catch(() => {});
      for (const dir of [...agents.map((a) => a.dataDir), cloud?.dataDir]) {
        if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }
  },
});
