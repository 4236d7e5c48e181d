/**
 * The cloud on a real PostgreSQL (a throwaway server per test, see tests/support/postgres.ts):
 * the store's behaviour suite (the same cases as cloud/store/store_test.ts runs on libSQL),
 * migrations, two replicas ingesting one device concurrently, a 300,000-reading load, and
 * `deno task cloud` with a real agent.
 *
 * Needs the Debian package `postgresql`.
 */
import { sql } from "kysely";
import assert from "node:assert/strict";
import type { Batch, BatchRecord } from "@outpost/protocol";
import { openCloudDatabase, openCloudStore } from "@outpost/cloud/store/open";
import { cloudMigrations } from "@outpost/cloud/store/migrations";
import { concurrentBatches, migrationCases, storeCases } from "@outpost/cloud/testing/store_cases";
import type { BatchOutcome } from "@outpost/cloud/store/batch";
import type { CloudStore } from "@outpost/cloud/store";
import { enrollForTest, readingBatch } from "@outpost/cloud/testing/fixtures";
import { postJson, startTask } from "../support/process.ts";
import { cloudRecordsPostgres, startPostgres, withPostgres } from "../support/postgres.ts";
import {
  type AgentHandle,
  type CloudHandle,
  startAgentProcess,
  startCloud,
} from "../support/stack.ts";
import { assertSameRecords, waitDrained } from "../support/sync_checks.ts";
import { agentRecords } from "../support/verify.ts";

/** A migrated store on `url`, closed afterwards. */
async function withPgStore(url: string, fn: (store: CloudStore) => Promise<void>): Promise<void> {
  const opened = await openCloudStore({ kind: "postgres", url });
  try {
    await fn(opened.store);
  } finally {
    await opened.handle.close();
  }
}

Deno.test("without PostgreSQL's server binaries the helper fails naming the Debian package", async () => {
  await assert.rejects(
    startPostgres({ binRoot: "/nonexistent/postgresql" }),
    /no server binaries \(initdb, postgres\) in \/nonexistent\/postgresql\/<version>\/bin; install the Debian package 'postgresql'/,
  );
});

Deno.test("the cloud store's behaviour suite passes on PostgreSQL", async (t) => {
  await withPostgres(async (server) => {
    for (const { name, run } of migrationCases) {
      await t.step(name, async () => {
        await run({ kind: "postgres", url: await server.createDatabase() });
      });
    }
    for (const { name, run } of storeCases) {
      await t.step(name, async () => {
        await withPgStore(await server.createDatabase(), run);
      });
    }
  });
});

Deno.test("PostgreSQL gets the same schema and indexes, and bigint columns come back as numbers", async () => {
  await withPostgres(async (server) => {
    const url = await server.createDatabase();
    await withPgStore(url, async (store) => {
      await enrollForTest(store, "pi-1");
      await store.commitBatch("pi-1", readingBatch(1, 3), { now: 1_780_000_000_123 });
      const row = await store.db.selectFrom("devices").select(["acked_seq", "enrolled_at"])
        .executeTakeFirstOrThrow();
      assert.equal(row.acked_seq, 3);
      assert.equal(typeof row.enrolled_at, "number");
      const reading = await store.db.selectFrom("readings").selectAll().where("seq", "=", 2)
        .executeTakeFirstOrThrow();
      assert.equal(reading.received_at, 1_780_000_000_123);
      const { rows } = await sql<{ indexname: string }>`
        SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname
      `.execute(store.db);
      assert.deepEqual(rows.map((r) => r.indexname), [
        "broker_credentials_pkey",
        "commands_device_created",
        "commands_device_status",
        "commands_job_status",
        "commands_pkey",
        "desired_reports_pk",
        "device_labels_key_value",
        "device_labels_pk",
        "devices_pkey",
        "enrollment_requests_device_secret",
        "enrollment_requests_pkey",
        "enrollment_requests_status",
        "enrollment_tokens_pkey",
        "enrollment_tokens_token_hash_key",
        "events_device_ts",
        "events_pk",
        "events_ts",
        "idempotency_keys_created",
        "idempotency_keys_pk",
        "jobs_created",
        "jobs_pkey",
        "jobs_state",
        "kysely_migration_lock_pkey",
        "kysely_migration_pkey",
        "readings_device_sensor_ts",
        "readings_device_ts",
        "readings_pk",
        "readings_ts",
        "received_ranges_pk",
        "rollout_targets_device_state",
        "rollout_targets_pk",
        "rollout_targets_wave_state",
        "rollout_waves_pk",
        "rollouts_created",
        "rollouts_pkey",
        "rollouts_state",
      ]);
    });
  });
});

Deno.test("three replicas migrating one empty database at once apply each migration exactly once", async () => {
  await withPostgres(async (server) => {
    const url = await server.createDatabase();
    const replicas = await Promise.all(
      [1, 2, 3].map(() => openCloudDatabase({ kind: "postgres", url }, { poolSize: 2 })),
    );
    try {
      const applied = await Promise.all(replicas.map((replica) => replica.migrate()));
      assert.deepEqual(applied.flat().sort(), Object.keys(cloudMigrations).sort());
    } finally {
      for (const replica of replicas) await replica.handle.close();
    }
  });
});

Deno.test("two cloud replicas (two pools) ingesting one device's overlapping and adjacent batches at once end with the right ack and no duplicates", async () => {
  await withPostgres(async (server) => {
    const url = await server.createDatabase();
    const a = await openCloudStore({ kind: "postgres", url }, { poolSize: 4 });
    const b = await openCloudStore({ kind: "postgres", url }, { poolSize: 4 });
    try {
      const total = 20_000;
      await enrollForTest(a.store, "pi-1");
      await enrollForTest(b.store, "pi-2");
      const batches = concurrentBatches(total);
      // Each replica gets every other message of both devices, as a shared subscription would,
      // and commits with 8 in flight (more than its pool of 4, so commits queue for connections).
      const queues = [a, b].map((replica, r) =>
        ["pi-1", "pi-2"].flatMap((device) =>
          batches.filter((_, i) => i % 2 === r).map((batch) => ({ replica, device, batch }))
        )
      );
      const outcomes: BatchOutcome[] = [];
      await Promise.all(queues.flatMap((queue) =>
        Array.from({ length: 8 }, async () => {
          for (let job = queue.shift(); job; job = queue.shift()) {
            outcomes.push(await job.replica.store.commitBatch(job.device, job.batch));
          }
        })
      ));
      assert.equal(outcomes.filter((o) => !o.known).length, 0);
      for (const device of ["pi-1", "pi-2"]) {
        const detail = await a.store.getDevice(device);
        assert.equal(detail?.ackedSeq, total, `${device} acked_seq`);
        assert.equal(detail?.lastSeq, total, `${device} last_seq`);
        assert.equal(detail?.stats.readings, total, `${device} readings`);
      }
      const inserted = outcomes.reduce((sum, o) => sum + o.inserted.readings, 0);
      assert.equal(inserted, 2 * total, "every seq was inserted by exactly one commit");
      const distinct = await sql<{ n: number }>`
        SELECT count(DISTINCT (device_id, seq))::bigint AS n FROM readings
      `.execute(a.store.db);
      assert.equal(distinct.rows[0].n, 2 * total);
      assert.deepEqual(await b.store.db.selectFrom("received_ranges").selectAll().execute(), []);
    } finally {
      await a.handle.close();
      await b.handle.close();
    }
  });
});

Deno.test("300,000 readings go through commitBatch in batches of 1,000 (rate printed)", async () => {
  await withPostgres(async (server) => {
    const url = await server.createDatabase();
    await withPgStore(url, async (store) => {
      await enrollForTest(store, "load-1");
      const total = 300_000;
      const size = 1_000;
      // The rate per 100,000 rows shows whether inserts slow down as the table grows.
      const perSegment: number[] = [];
      const started = performance.now();
      let segmentStarted = started;
      for (let from = 1; from <= total; from += size) {
        const outcome = await store.commitBatch("load-1", loadBatch(from, from + size - 1));
        assert.equal(outcome.inserted.readings, size);
        if ((from + size - 1) % 100_000 === 0) {
          const now = performance.now();
          perSegment.push(Math.round(100_000 / ((now - segmentStarted) / 1000)));
          segmentStarted = now;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const device = await store.getDevice("load-1");
      assert.equal(device?.stats.readings, total);
      assert.equal(device?.ackedSeq, total);
      const timed = async (what: string, query: () => Promise<unknown[]>) => {
        const t0 = performance.now();
        const rows = await query();
        return `${what} ${(performance.now() - t0).toFixed(1)} ms (${rows.length} rows)`;
      };
      const queries = [
        await timed("fleet: newest 100 readings", () => store.queryReadings({ limit: 100 })),
        await timed(
          "device: newest 100",
          () => store.queryReadings({ device: "load-1", limit: 100 }),
        ),
        await timed(
          "fleet: 1-minute buckets",
          () => store.aggregateReadings({ limit: 500 }, 60_000),
        ),
        await timed("fleet list", async () => (await store.listDevicesPage({ limit: 100 })).items),
      ];
      console.log(
        `PostgreSQL ${server.describe}: ${total} readings in ${seconds.toFixed(1)} s = ${
          Math.round(total / seconds)
        } readings/s (batches of ${size}, one transaction each; per 100,000: ${
          perSegment.join(", ")
        }/s); ${queries.join("; ")}`,
      );
    });
  });
});

/** Readings `from..to` as a device writes them: 4 sensors, one reading per second. */
function loadBatch(from: number, to: number): Batch {
  const base = Date.parse("2026-11-26T00:00:00Z");
  const records: BatchRecord[] = [];
  for (let seq = from; seq <= to; seq++) {
    const ts = new Date(base + seq * 1000).toISOString();
    records.push({ seq, type: "reading", sensor: `s${seq % 4}`, value: seq / 10, unit: "C", ts });
  }
  return { from, to, records };
}

Deno.test("deno task cloud on PostgreSQL receives 20,000 readings from a real agent exactly once", async () => {
  await withPostgres(async (server) => {
    const url = await server.createDatabase();
    let cloud: CloudHandle | undefined;
    let agent: AgentHandle | undefined;
    try {
      cloud = await startCloud({ env: { DATABASE_URL: url, OUTPOST_DB_POOL_SIZE: "4" } });
      assert.ok(
        cloud.process.output.some((line) => line.includes("postgres://outpost:***@127.0.0.1")),
        "the start line names the database without its password",
      );
      assert.ok(!cloud.process.output.some((line) => line.includes(new URL(url).password)));
      agent = await startAgentProcess({ deviceId: "pg-sync", cloudUrl: cloud.url });
      for (let i = 0; i < 20; i++) {
        const batch = Array.from({ length: 1000 }, (_, j) => ({
          sensor: `s${j % 3}`,
          value: i * 1000 + j,
        }));
        assert.equal((await postJson(`${agent.url}/api/v1/readings`, batch)).status, 201);
        if (i % 4 === 0) {
          const event = await postJson(`${agent.url}/api/v1/events`, {
            kind: "batch",
            severity: "info",
            message: `batch ${i}`,
          });
          assert.equal(event.status, 201);
        }
      }
      await waitDrained(agent);
      const local = agentRecords(agent.dataDir);
      assertSameRecords(local, await cloudRecordsPostgres(url, "pg-sync"), "pg-sync");
      assert.equal(local.size, 20_005);
      const device = await cloud.admin<{ stats: unknown; ackedSeq: number; online: boolean }>(
        "/api/v1/devices/pg-sync",
      );
      assert.deepEqual(device.body.stats, { readings: 20_000, events: 5 });
      assert.equal(device.body.ackedSeq, 20_005);
      assert.equal(device.body.online, true);
    } finally {
      await agent?.process.stop();
      await cloud?.process.stop();
    }
  });
});

Deno.test("deno task cloud with a wrong PostgreSQL password exits 2 with one line naming DATABASE_URL and no password", async () => {
  await withPostgres(async (server) => {
    const url = new URL(await server.createDatabase());
    url.password = "wrong-password-x";
    const dataDir = await Deno.makeTempDir({ prefix: "outpost-cloud-" });
    const cloud = startTask("cloud", {
      env: {
        DATABASE_URL: url.toString(),
        OUTPOST_PORT: "0",
        OUTPOST_MQTT_PORT: "0",
        OUTPOST_DATA_DIR: dataDir,
      },
    });
    const status = await cloud.status;
    await Deno.remove(dataDir, { recursive: true });
    assert.equal(status.code, 2, cloud.output.join("\n"));
    const lines = cloud.output.filter((line) => line.trim() !== "");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0],
      /^Cannot start cloud: DATABASE_URL: cannot connect to PostgreSQL at postgres:\/\/outpost:\*\*\*@127\.0\.0\.1:\d+\/t_\w+: password authentication failed for user "outpost"$/,
    );
    assert.doesNotMatch(lines[0], /wrong-password-x/);
  });
});
