import assert from "node:assert/strict";
import { DownlinkHandler } from "./downlink.ts";
import { CommandResultRecord } from "@outpost/protocol";
import { openAgentStore } from "../store/open.ts";
import { createLogger } from "@outpost/platform/log";
import type { AgentStore } from "../store/store.ts";
import { RuntimeSettings } from "./desired_settings.ts";

async function withHandler(
  fn: (
    ctx: {
      store: AgentStore;
      handler: DownlinkHandler;
      resyncs: number[];
      logger: ReturnType<typeof createLogger>;
      settings: RuntimeSettings;
    },
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const { store, handle } = await openAgentStore(dir);
  const logger = createLogger({ write: () => {} });
  const resyncs: number[] = [];
  const settings = new RuntimeSettings({ logLevel: "info", retentionDays: 30 }, logger);
  const handler = new DownlinkHandler({
    store,
    logger,
    context: { logger, resync: () => (resyncs.push(1), 7) },
    settings,
  });
  try {
    await fn({ store, handler, resyncs, logger, settings });
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function outboxPayloads(store: AgentStore) {
  return (await store.readOutbox(0, 100)).map((row) => JSON.parse(row.payload));
}

Deno.test("desired state applies only newer versions and reports the applied version", async () => {
  await withHandler(async ({ store, handler }) => {
    assert.equal(await handler.desired({ version: 2, desired: { sampleRate: 5 } }), true);
    assert.equal(await handler.desired({ version: 1, desired: { sampleRate: 1 } }), false);
    assert.equal(await handler.desired({ version: 2, desired: { sampleRate: 9 } }), false);
    assert.deepEqual(await store.readConfig(), {
      desired: { sampleRate: 5 },
      desiredVersion: 2,
      appliedVersion: 2,
    });
    const reported = (await outboxPayloads(store)).filter((p) => p.type === "reported");
    assert.equal(reported.length, 1);
    assert.equal(reported[0].appliedVersion, 2);
    assert.equal(reported[0].version, 2);
    assert.equal(reported[0].outcome, "applied");
    assert.deepEqual(reported[0].reported.unknownKeys, ["sampleRate"], "kept and reported");
  });
});

Deno.test("desired logLevel and retentionDays are put in force, and a removed key falls back to the base", async () => {
  await withHandler(async ({ handler, logger, settings, store }) => {
    await handler.desired({ version: 1, desired: { logLevel: "debug", retentionDays: 7 } });
    assert.equal(logger.getLevel(), "debug");
    assert.equal(settings.retentionDays, 7);
    assert.deepEqual(await store.appliedDesired(), { logLevel: "debug", retentionDays: 7 });
    await handler.desired({ version: 2, desired: { retentionDays: 14 } });
    assert.equal(logger.getLevel(), "info", "back to the configured level");
    assert.equal(settings.retentionDays, 14);
    const reported = (await outboxPayloads(store)).filter((p) => p.type === "reported");
    assert.deepEqual(reported.at(-1).reported, {
      desiredVersion: 2,
      logLevel: "info",
      retentionDays: 14,
    });
  });
});

Deno.test("a desired state with a bad value fails whole: the agent keeps its settings and reports why", async () => {
  await withHandler(async ({ handler, logger, settings, store }) => {
    await handler.desired({ version: 1, desired: { logLevel: "warn", retentionDays: 10 } });
    assert.equal(
      await handler.desired({ version: 2, desired: { logLevel: "debug", retentionDays: -1 } }),
      true,
    );
    assert.equal(logger.getLevel(), "warn", "logLevel of the failed version not applied");
    assert.equal(settings.retentionDays, 10);
    const config = await store.readConfig();
    assert.equal(config.desiredVersion, 2, "not asked again");
    assert.equal(config.appliedVersion, 1);
    assert.deepEqual(config.lastFailure, {
      version: 2,
      reason: "retentionDays must be a whole number from 1 to 3650; got -1",
    });
    assert.deepEqual(await store.appliedDesired(), { logLevel: "warn", retentionDays: 10 });
    const last = (await outboxPayloads(store)).filter((p) => p.type === "reported").at(-1);
    assert.equal(last.appliedVersion, 1);
    assert.equal(last.version, 2);
    assert.equal(last.outcome, "failed");
    assert.equal(last.reason, "retentionDays must be a whole number from 1 to 3650; got -1");
    assert.equal(last.reported.logLevel, "warn", "reports the settings in force");
    // Two problems are both named; a later good version applies and clears the failure.
    await handler.desired({ version: 3, desired: { logLevel: "loud", retentionDays: 1.5 } });
    const both = (await outboxPayloads(store)).filter((p) => p.type === "reported").at(-1);
    assert.match(
      both.reason,
      /logLevel must be one of debug, info, warn, error; got "loud"; retentionDays/,
    );
    await handler.desired({ version: 4, desired: { retentionDays: 5 } });
    const after = await store.readConfig();
    assert.equal(after.appliedVersion, 4);
    assert.equal(after.lastFailure, undefined);
    assert.equal(settings.retentionDays, 5);
  });
});

Deno.test("a command id runs once even when delivered twice, and its result goes to the outbox", async () => {
  await withHandler(async ({ store, handler, resyncs }) => {
    const first = await handler.command({ id: "c1", name: "resync" });
    assert.deepEqual(first, { status: "succeeded", result: { resendFrom: 7 } });
    assert.equal(await handler.command({ id: "c1", name: "resync" }), undefined);
    assert.equal(resyncs.length, 1);
    const results = (await outboxPayloads(store)).filter((p) => p.type === "command_result");
    assert.deepEqual(results.map((r) => [r.commandId, r.status]), [["c1", "succeeded"]]);
  });
});

Deno.test("ping answers pong, set-log-level changes the level, unknown commands fail clearly", async () => {
  await withHandler(async ({ handler, logger }) => {
    const ping = await handler.command({ id: "p", name: "ping" });
    assert.equal(ping?.status, "succeeded");
    await handler.command({ id: "l", name: "set-log-level", args: { level: "debug" } });
    assert.equal(logger.getLevel(), "debug");
    const bad = await handler.command({ id: "l2", name: "set-log-level", args: { level: "loud" } });
    assert.equal(bad?.status, "failed");
    const unknown = await handler.command({ id: "u", name: "reboot" });
    assert.deepEqual(unknown, { status: "failed", error: "Unknown command 'reboot'" });
  });
});

Deno.test("a command result always fits the protocol, however large the args it echoes", async () => {
  // Regression (chaos fuzzer): set-log-level with 10,000 args produced an error message of
  // 49 KB, over the protocol's 4,000; the cloud rejected the batch, the agent resent it forever
  // and nothing after it was ever synced.
  await withHandler(async ({ store, handler }) => {
    const level = Array.from({ length: 10_000 }, (_, i) => i);
    const outcome = await handler.command({ id: "c-big", name: "set-log-level", args: { level } });
    assert.equal(outcome?.status, "failed");
    const [record] = await outboxPayloads(store);
    const parsed = CommandResultRecord.safeParse(record);
    assert.ok(parsed.success, parsed.success ? "" : parsed.error.message);
    assert.match(record.error, /^set-log-level needs args\.level/);
  });
});
