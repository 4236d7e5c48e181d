import assert from "node:assert/strict";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { startTracing } from "@outpost/platform/tracing";
import type { Tracing } from "@outpost/platform/trace";
import { MAX_BATCH_RECORDS, MAX_MESSAGE_BYTES } from "@outpost/protocol";
import { topics } from "@outpost/protocol";
import { Downlink } from "../broker/downlink.ts";
import type { CloudStore } from "../store/store.ts";
import {
  bytes,
  collectingLogger,
  enrollForTest,
  eventually,
  reading,
  readingBatch,
  RecordingLink,
  withStore,
} from "../testing/fixtures.ts";
import { createIngest } from "./ingest.ts";
import { decodeBatch } from "./decode.ts";

interface Harness {
  store: CloudStore;
  link: RecordingLink;
  send: (topic: string, payload: unknown) => Promise<void>;
  ingest: ReturnType<typeof createIngest>;
  metrics: MetricsRegistry;
  lines: Record<string, unknown>[];
}

async function withIngest(
  fn: (h: Harness) => Promise<void>,
  options: { tracing?: Tracing; maxSeqGap?: number } = {},
): Promise<void> {
  await withStore(async (store) => {
    await enrollForTest(store, "pi-1");
    const link = new RecordingLink();
    const { logger, lines } = collectingLogger();
    logger.setLevel("debug");
    const metrics = new MetricsRegistry();
    const downlink = new Downlink({ link, store, logger });
    const ingest = createIngest({ store, downlink, logger, metrics, ...options });
    const send = (topic: string, payload: unknown) =>
      ingest.handle(topic, payload instanceof Uint8Array ? payload : bytes(payload));
    await fn({ store, link, send, ingest, metrics, lines });
    await ingest.drain();
  });
}

Deno.test("a valid batch is committed in one go and then acked, retained at QoS 1", async () => {
  await withIngest(async ({ store, link, send, metrics }) => {
    await send(topics.batch("pi-1"), readingBatch(1, MAX_BATCH_RECORDS));
    assert.equal((await store.getDevice("pi-1"))?.stats.readings, MAX_BATCH_RECORDS);
    assert.deepEqual(link.published, [
      {
        topic: topics.ack("pi-1"),
        payload: { upTo: MAX_BATCH_RECORDS },
        options: { qos: 1, retain: true },
      },
    ]);
    const text = await metrics.render();
    assert.match(text, /outpost_ingest_batches_total\{result="stored"\} 1/);
    assert.match(text, /outpost_ingest_records_total\{type="reading"\} 1000/);
  });
});

Deno.test("a duplicate batch is stored once and acked again", async () => {
  await withIngest(async ({ store, link, send, metrics }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 5));
    await send(topics.batch("pi-1"), readingBatch(1, 5));
    assert.equal((await store.getDevice("pi-1"))?.stats.readings, 5);
    assert.deepEqual(link.on(topics.ack("pi-1")), [{ upTo: 5 }, { upTo: 5 }]);
    assert.match(await metrics.render(), /outpost_ingest_batches_total\{result="duplicate"\} 1/);
  });
});

Deno.test("a batch after a gap is stored but acked at the prefix, and the ack jumps once the gap fills", async () => {
  await withIngest(async ({ store, link, send }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 3));
    await send(topics.batch("pi-1"), readingBatch(7, 9));
    assert.equal((await store.getDevice("pi-1"))?.stats.readings, 6);
    await send(topics.batch("pi-1"), readingBatch(4, 6));
    assert.deepEqual(link.on(topics.ack("pi-1")), [{ upTo: 3 }, { upTo: 3 }, { upTo: 9 }]);
  });
});

Deno.test("bad messages are rejected whole, logged and counted, and the ingest keeps going", async () => {
  await withIngest(async ({ store, link, send, metrics, lines }) => {
    const lying = readingBatch(1, 3);
    lying.to = 4; // claims four records, carries three
    const skipping = readingBatch(1, 3);
    skipping.records[1] = reading(5);
    const oversized = new Uint8Array(MAX_MESSAGE_BYTES + 1);
    const cases: [string, unknown, string][] = [
      [topics.batch("pi-1"), "{not json", "malformed_json"],
      [topics.batch("pi-1"), new Uint8Array([0xff, 0xfe]), "malformed_json"],
      [topics.batch("pi-1"), { from: 1, to: 1, records: [{ seq: 1, type: "nope" }] }, "schema"],
      [topics.batch("pi-1"), lying, "range_mismatch"],
      [topics.batch("pi-1"), skipping, "range_mismatch"],
      [topics.batch("pi-1"), oversized, "oversized"],
      [topics.batch("ghost"), readingBatch(1, 2), "unknown_device"],
      [topics.status("pi-1"), { online: "yes" }, "schema"],
      [topics.status("ghost"), { online: true }, "unknown_device"],
      ["outpost/v1/pi-1/up/other", readingBatch(1, 1), "unknown_topic"],
      [topics.ack("pi-1"), { upTo: 1 }, "unknown_topic"],
    ];
    for (const [topic, payload, reason] of cases) {
      const before = lines.length;
      await send(topic, payload);
      const warning = lines.slice(before).find((line) => line.level === "warn");
      assert.equal(warning?.reason, reason, `${topic} ${String(payload).slice(0, 40)}`);
    }
    assert.deepEqual(await store.queryReadings({ limit: 10 }), []);
    assert.equal(
      (await store.getDevice("pi-1"))?.lastSeen,
      null,
      "rejected messages store nothing",
    );
    // No ack moved; the device was told once per refused batch (not retained), with why.
    assert.deepEqual(link.published.filter((p) => p.options.retain), []);
    const notices = link.on(topics.ack("pi-1")) as {
      upTo: number;
      refused: { reason: string; from?: number; to?: number; message: string };
    }[];
    assert.deepEqual(notices.map((n) => [n.upTo, n.refused.reason]), [
      [0, "malformed_json"],
      [0, "malformed_json"],
      [0, "schema"],
      [0, "range_mismatch"],
      [0, "range_mismatch"],
    ]);
    assert.deepEqual([notices[3].refused.from, notices[3].refused.to], [1, 4]);
    assert.match(notices[3].refused.message, /range 1\.\.4 needs 4 records, got 3/);
    link.published = [];
    const text = await metrics.render();
    assert.match(text, /outpost_ingest_rejected_total\{kind="batch",reason="range_mismatch"\} 2/);
    assert.match(text, /outpost_ingest_rejected_total\{kind="batch",reason="oversized"\} 1/);
    assert.match(text, /outpost_ingest_rejected_total\{kind="status",reason="unknown_device"\} 1/);
    // Still ingesting.
    await send(topics.batch("pi-1"), readingBatch(1, 2));
    assert.deepEqual(link.on(topics.ack("pi-1")), [{ upTo: 2 }]);
  });
});

Deno.test("a failing commit is logged and counted, and later batches are still ingested", async () => {
  await withIngest(async ({ store, link, send, metrics }) => {
    const original = store.commitBatch.bind(store);
    store.commitBatch = () => Promise.reject(new Error("SQLITE_IOERR: disk I/O error"));
    await send(topics.batch("pi-1"), readingBatch(1, 2));
    store.commitBatch = original;
    await send(topics.batch("pi-1"), readingBatch(1, 2));
    assert.deepEqual(link.on(topics.ack("pi-1")), [{ upTo: 2 }]);
    assert.match(await metrics.render(), /reason="store_error"\} 1/);
  });
});

Deno.test("reported state and command results in a batch update the device and its commands", async () => {
  await withIngest(async ({ store, send }) => {
    const command = await store.createCommand({ deviceId: "pi-1", name: "ping" });
    const ts = "2026-11-26T10:00:00Z";
    await send(topics.batch("pi-1"), {
      from: 1,
      to: 2,
      records: [
        { seq: 1, type: "reported", appliedVersion: 2, reported: { interval: 5 }, ts },
        {
          seq: 2,
          type: "command_result",
          commandId: command.id,
          status: "succeeded",
          result: "pong",
          ts,
        },
      ],
    });
    const device = await store.getDevice("pi-1");
    assert.equal(device?.appliedVersion, 2);
    assert.deepEqual(device?.reported, { interval: 5 });
    const settled = await store.getCommand("pi-1", command.id);
    assert.equal(settled?.status, "succeeded");
    assert.equal(settled?.result, "pong");
  });
});

Deno.test("a device coming online gets its ack, unapplied desired state and unanswered commands again", async () => {
  await withIngest(async ({ store, link, send }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 4));
    await store.setDesired("pi-1", { interval: 5 });
    const queued = await store.createCommand({ deviceId: "pi-1", name: "ping" });
    link.published = [];
    await send(topics.status("pi-1"), { online: true, version: "1.0.0", lastSeq: 4 });
    await eventually(() => link.published.length === 3, "three downlink messages");
    assert.deepEqual(link.published.map((p) => [p.topic, p.payload, p.options.retain]), [
      [topics.ack("pi-1"), { upTo: 4 }, true],
      [topics.desired("pi-1"), { version: 1, desired: { interval: 5 } }, true],
      [topics.command("pi-1"), { id: queued.id, name: "ping" }, false],
    ]);
    await eventually(
      async () => (await store.getCommand("pi-1", queued.id))?.status === "delivered",
      "the command to be marked delivered",
    );
    const device = await store.getDevice("pi-1");
    assert.equal(device?.online, true);
    assert.equal(device?.version, "1.0.0");
  });
});

Deno.test("desired state already applied is not re-sent when the device comes online", async () => {
  await withIngest(async ({ store, link, send }) => {
    await store.setDesired("pi-1", { interval: 5 });
    const ts = "2026-11-26T10:00:00Z";
    await send(topics.batch("pi-1"), {
      from: 1,
      to: 1,
      records: [{ seq: 1, type: "reported", appliedVersion: 1, reported: {}, ts }],
    });
    link.published = [];
    await send(topics.status("pi-1"), { online: true });
    await eventually(() => link.published.length === 1, "the ack");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(link.published.map((p) => p.topic), [topics.ack("pi-1")]);
  });
});

Deno.test("a Last Will or a broker disconnect marks the device offline", async () => {
  await withIngest(async ({ store, send, ingest }) => {
    await send(topics.status("pi-1"), { online: true });
    assert.equal(await store.countOnline(), 1);
    await send(topics.status("pi-1"), { online: false });
    assert.equal(await store.countOnline(), 0);
    await send(topics.status("pi-1"), { online: true });
    ingest.deviceDisconnected("pi-1");
    await ingest.drain();
    assert.equal(await store.countOnline(), 0);
  });
});

Deno.test("a device reporting a last seq below the ack is warned about", async () => {
  await withIngest(async ({ send, lines }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 10));
    await send(topics.status("pi-1"), { online: true, lastSeq: 2 });
    assert.ok(lines.some((line) => String(line.msg).includes("was its data reset")));
  });
});

Deno.test("decode failures carry their reason code, not only a message", () => {
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const reading = (seq: number) => ({
    seq,
    type: "reading",
    sensor: "t",
    value: 1,
    unit: "C",
    ts: "2026-11-01T00:00:00.000Z",
  });
  const reasonOf = (payload: Uint8Array) => {
    const decoded = decodeBatch(payload);
    return decoded.ok ? "ok" : decoded.reason;
  };
  assert.equal(reasonOf(new Uint8Array(MAX_MESSAGE_BYTES + 1)), "oversized");
  assert.equal(reasonOf(new TextEncoder().encode("{not json")), "malformed_json");
  assert.equal(
    reasonOf(encode({ from: 1, to: 4, records: [reading(1), reading(2), reading(3)] })),
    "range_mismatch",
  );
  assert.equal(
    reasonOf(encode({ from: 1, to: 2, records: [reading(1), reading(5)] })),
    "range_mismatch",
  );
  assert.equal(reasonOf(encode({ from: "x", to: 1, records: [reading(1)] })), "schema");
  assert.equal(
    reasonOf(encode({ from: 1, to: 1, records: [{ ...reading(1), type: "soon" }] })),
    "schema",
  );
  // A record of a known type that breaks a field rule is dropped, not the batch.
  assert.equal(
    reasonOf(encode({ from: 1, to: 1, records: [{ ...reading(1), ts: "soon" }] })),
    "ok",
  );
  assert.equal(reasonOf(encode({ from: 1, to: 1, records: [reading(1)] })), "ok");
});

Deno.test("with tracing on, the commit joins the trace of each write and its log line says so", async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing({}, { serviceName: "unit", exporter });
  const upload = "00-2af7651916cd43dd8448eb211c80319c-d7ad6b7169203331-01";
  const writeA = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const writeB = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01";
  const unsampled = "00-3af7651916cd43dd8448eb211c80319c-e7ad6b7169203331-00";
  await withIngest(async ({ send, lines }) => {
    const batch = readingBatch(1, 4);
    const traced = [writeA, writeA, writeB, unsampled];
    await send(topics.batch("pi-1"), {
      ...batch,
      traceparent: upload,
      records: batch.records.map((record, i) => ({ ...record, traceparent: traced[i] })),
    });
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const batchSpan = spans.find((span) => span.name === "ingest.batch")!;
    assert.equal(batchSpan.spanContext().traceId, upload.slice(3, 35));
    const commits = spans.filter((span) => span.name === "ingest.commit");
    assert.deepEqual(commits.map((span) => span.spanContext().traceId).sort(), [
      writeA.slice(3, 35),
      writeB.slice(3, 35),
    ]);
    const commitA = commits.find((span) => span.spanContext().traceId === writeA.slice(3, 35))!;
    assert.equal(commitA.parentSpanContext?.spanId, writeA.slice(36, 52));
    assert.equal(commitA.attributes["outpost.seq.first"], 1);
    assert.equal(commitA.attributes["outpost.seq.last"], 2);
    assert.equal(commitA.links[0].context.spanId, batchSpan.spanContext().spanId);
    const logged = lines.filter((line) => line.msg === "write committed");
    assert.deepEqual(logged.map((line) => line.trace_id).sort(), [
      writeA.slice(3, 35),
      writeB.slice(3, 35),
    ]);
  }, { tracing });
  await tracing.shutdown();
});

Deno.test("a record breaking a field rule is dropped and named to the device; the rest is stored and acked", async () => {
  await withIngest(async ({ store, link, send, metrics }) => {
    const batch = readingBatch(1, 4);
    (batch.records[1] as { unit: string }).unit = "a\u0000b";
    (batch.records[2] as { ts: string }).ts = "9999-12-31T23:59:59Z";
    await send(topics.batch("pi-1"), batch);
    const stored = await store.queryReadings({ device: "pi-1", limit: 10 });
    assert.deepEqual(stored.map((r) => r.seq).sort(), [1, 4]);
    const [ack, notice] = link.published;
    assert.deepEqual(ack, {
      topic: topics.ack("pi-1"),
      payload: { upTo: 4 },
      options: { qos: 1, retain: true },
    });
    assert.deepEqual(notice.options, { qos: 1, retain: false });
    const dropped = notice.payload as { upTo: number; dropped: { from: number }[] };
    assert.equal(dropped.upTo, 4);
    assert.deepEqual(dropped.dropped.map((d) => d.from), [2, 3]);
    assert.match(
      JSON.stringify(dropped.dropped),
      /records\.1\.unit: must not contain control characters.*records\.2\.ts: must be from 1970/,
    );
    assert.match(await metrics.render(), /outpost_ingest_dropped_records_total 2/);
  });
});

Deno.test("a batch starting implausibly far beyond the ack is refused whole: no lag poisoning, the device is told why", async () => {
  await withIngest(async ({ store, link, send, metrics }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 10));
    link.published = [];
    const poison = {
      from: 9007199254740990,
      to: 9007199254740990,
      records: [{ ...reading(1), seq: 9007199254740990 }],
    };
    await send(topics.batch("pi-1"), poison);
    const device = await store.getDevice("pi-1");
    assert.deepEqual([device?.ackedSeq, device?.lastSeq, device?.lag], [10, 10, 0]);
    assert.equal(device?.stats.readings, 10);
    const [notice] = link.published;
    assert.deepEqual(notice.options, { qos: 1, retain: false });
    const refused = notice.payload as { upTo: number; refused: Record<string, unknown> };
    assert.equal(refused.upTo, 10);
    assert.equal(refused.refused.reason, "implausible_seq");
    assert.equal(refused.refused.from, 9007199254740990);
    assert.match(
      String(refused.refused.message),
      /starts 9007199254740979 seqs beyond the 10 the cloud holds; at most 1000 \(OUTPOST_MAX_SEQ_GAP\)/,
    );
    assert.match(
      await metrics.render(),
      /outpost_ingest_rejected_total\{kind="batch",reason="implausible_seq"\} 1/,
    );
    // Within the bound, a batch after a gap is still stored as before.
    await send(topics.batch("pi-1"), readingBatch(1011, 1011));
    assert.equal((await store.getDevice("pi-1"))?.lastSeq, 1011);
  }, { maxSeqGap: 1000 });
});

Deno.test("a status claiming an implausible last seq is not believed beyond the bound", async () => {
  await withIngest(async ({ store, send, lines, metrics }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 10));
    await send(topics.status("pi-1"), { online: true, lastSeq: 9007199254740990 });
    const device = await store.getDevice("pi-1");
    assert.equal(device?.online, true);
    assert.deepEqual([device?.lastSeq, device?.lag], [1010, 1000]);
    assert.ok(lines.some((line) => String(line.msg).includes("implausibly far beyond its ack")));
    assert.match(await metrics.render(), /outpost_ingest_implausible_status_total 1/);
  }, { maxSeqGap: 1000 });
});

Deno.test("nothing a revoked device sends is stored, and it is not told (it has no session)", async () => {
  await withIngest(async ({ store, link, send }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 2));
    await store.setDeviceStatus("pi-1", "revoked");
    link.published = [];
    await send(topics.batch("pi-1"), readingBatch(3, 4));
    await send(topics.status("pi-1"), { online: true, lastSeq: 4 });
    const device = await store.getDevice("pi-1");
    assert.deepEqual([device?.ackedSeq, device?.lastSeq, device?.online], [2, 2, false]);
    assert.deepEqual(link.published, []);
  });
});

const hello = (fields: Record<string, unknown> = {}) => ({
  v: 1,
  agentVersion: "1.0.0",
  outbox: { head: 0, acked: 0 },
  ...fields,
});

Deno.test("a hello is answered on the device's topics with its ack and desired state, QoS 1, not retained", async () => {
  await withIngest(async ({ store, link, send, metrics }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 4));
    await store.setDesired("pi-1", { interval: 5 });
    link.published = [];
    await send(topics.hello("pi-1"), hello({ outbox: { head: 9, acked: 0 } }));
    await eventually(() => link.published.length === 2, "the ack and the desired state");
    assert.deepEqual(link.published, [
      { topic: topics.ack("pi-1"), payload: { upTo: 4 }, options: { qos: 1, retain: false } },
      {
        topic: topics.desired("pi-1"),
        payload: { version: 1, desired: { interval: 5 } },
        options: { qos: 1, retain: false },
      },
    ]);
    assert.match(await metrics.render(), /outpost_ingest_hellos_total 1/);
    // Hello changes no presence: that is up/status's job.
    assert.equal((await store.getDevice("pi-1"))?.online, false);
  });
});

Deno.test("a hello from a device with nothing acked gets upTo 0, and desired state it already holds is not sent", async () => {
  await withIngest(async ({ store, link, send }) => {
    await store.setDesired("pi-1", { interval: 5 });
    await store.setDesired("pi-1", { interval: 6 });
    await send(topics.hello("pi-1"), hello({ desiredVersion: 2 }));
    await send(topics.hello("pi-1"), hello({ desiredVersion: 1 }));
    await eventually(() => link.published.length === 3, "two acks and one desired state");
    assert.deepEqual(link.published.map((p) => [p.topic, p.payload]), [
      [topics.ack("pi-1"), { upTo: 0 }],
      [topics.ack("pi-1"), { upTo: 0 }],
      [topics.desired("pi-1"), { version: 2, desired: { interval: 6 } }],
    ]);
  });
});

Deno.test("a hello answers the position after every batch received before it", async () => {
  await withIngest(async ({ link, send }) => {
    // Not awaited one by one: the ingest's queue keeps them in arrival order.
    const sent = [
      send(topics.batch("pi-1"), readingBatch(1, 3)),
      send(topics.batch("pi-1"), readingBatch(4, 6)),
      send(topics.hello("pi-1"), hello()),
    ];
    await Promise.all(sent);
    await eventually(() => link.published.length === 3, "two acks and the answer");
    assert.deepEqual(link.published.at(-1), {
      topic: topics.ack("pi-1"),
      payload: { upTo: 6 },
      options: { qos: 1, retain: false },
    });
  });
});

Deno.test("a hello from an unknown, revoked or malformed sender is refused, counted and not answered", async () => {
  await withIngest(async ({ store, link, send, metrics, lines }) => {
    await send(topics.hello("ghost"), hello());
    await send(topics.hello("pi-1"), { v: 1, outbox: { head: -1 } });
    await send(topics.hello("pi-1"), "{not json");
    await store.setDeviceStatus("pi-1", "revoked");
    await send(topics.hello("pi-1"), hello());
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(link.published, []);
    const text = await metrics.render();
    for (const reason of ["unknown_device", "schema", "device_inactive"]) {
      assert.match(
        text,
        new RegExp(`outpost_ingest_rejected_total\\{kind="hello",reason="${reason}"\\} 1`),
      );
    }
    assert.doesNotMatch(text, /outpost_ingest_hellos_total [1-9]/);
    assert.ok(lines.some((line) => line.kind === "hello" && line.reason === "device_inactive"));
  });
});

Deno.test("a hello saying the cloud acked more than it holds is answered and warned about", async () => {
  await withIngest(async ({ link, send, lines }) => {
    await send(topics.batch("pi-1"), readingBatch(1, 2));
    link.published = [];
    await send(topics.hello("pi-1"), hello({ outbox: { head: 50, acked: 40 } }));
    await eventually(() => link.published.length === 1, "the answer");
    assert.deepEqual(link.on(topics.ack("pi-1")), [{ upTo: 2 }]);
    assert.ok(lines.some((line) => String(line.msg).includes("was the cloud restored")));
  });
});
