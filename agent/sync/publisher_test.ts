import assert from "node:assert/strict";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { startTracing } from "@outpost/platform/tracing";
import type { Tracing } from "@outpost/platform/trace";
import { encodeBatch, OutboxPublisher, takeBatch, writeContexts } from "./publisher.ts";
import { openAgentStore } from "../store/open.ts";
import { createLogger } from "@outpost/platform/log";
import { Batch, decodeMessage } from "@outpost/protocol";
import type { AgentStore } from "../store/store.ts";

interface Sent {
  topic: string;
  batch: Batch;
}

async function withPublisher(
  options: {
    window?: number;
    ackTimeoutMs?: number;
    maxRecords?: number;
    maxBytes?: number;
    tracing?: Tracing;
  },
  fn: (ctx: { store: AgentStore; publisher: OutboxPublisher; sent: Sent[] }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const { store, handle } = await openAgentStore(dir);
  const sent: Sent[] = [];
  const publisher = new OutboxPublisher({
    store,
    deviceId: "dev1",
    logger: createLogger({ write: () => {} }),
    publish: (topic, payload) => {
      const decoded = decodeMessage(Batch, payload);
      assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
      sent.push({ topic, batch: decoded.value });
      return Promise.resolve();
    },
    idlePollMs: 20,
    ...options,
  });
  try {
    await fn({ store, publisher, sent });
  } finally {
    await publisher.stop();
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function readings(n: number) {
  return Array.from({ length: n }, (_, i) => ({ sensor: "t", value: i, unit: "", ts: 0 }));
}

Deno.test("encodeBatch produces a valid contiguous batch from stored payloads", () => {
  const rows = [1, 2].map((seq) => ({
    seq,
    payload: JSON.stringify({
      type: "reading",
      sensor: "t",
      value: seq,
      unit: "",
      ts: "2026-11-26T10:00:00Z",
    }),
  }));
  const decoded = decodeMessage(Batch, encodeBatch(rows));
  assert.ok(decoded.ok);
  if (decoded.ok) assert.deepEqual(decoded.value.records.map((r) => r.seq), [1, 2]);
});

const WRITE_A = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const WRITE_B = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01";

Deno.test("encodeBatch carries the upload's traceparent; writeContexts finds the writes'", () => {
  const payload = (value: number, traceparent?: string) =>
    JSON.stringify({
      type: "reading",
      sensor: "t",
      value,
      unit: "",
      ts: "2026-11-26T10:00:00Z",
      traceparent,
    });
  const rows = [
    { seq: 1, payload: payload(1, WRITE_A) },
    { seq: 2, payload: payload(2, WRITE_A) },
    { seq: 3, payload: payload(3) },
    { seq: 4, payload: payload(4, WRITE_B) },
    { seq: 5, payload: payload(5, WRITE_A) },
  ];
  assert.deepEqual(writeContexts(rows), [WRITE_A, WRITE_B]);
  assert.deepEqual(writeContexts(rows, 1), [WRITE_A]);
  const decoded = decodeMessage(Batch, encodeBatch(rows, WRITE_B));
  assert.ok(decoded.ok);
  if (decoded.ok) {
    assert.equal(decoded.value.traceparent, WRITE_B);
    assert.equal(decoded.value.records[0].traceparent, WRITE_A);
    assert.equal(decoded.value.records[2].traceparent, undefined);
  }
});

Deno.test("with tracing on, each batch is sent in an upload span linked to its writes", async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing({}, { serviceName: "unit", exporter });
  await withPublisher({ tracing }, async ({ store, publisher, sent }) => {
    await store.insertReadings(readings(3), { traceparent: WRITE_A });
    await store.insertReadings(readings(2));
    await publisher.start();
    publisher.connected();
    await until(() => sent.length === 1, "one batch");
    await tracing.flush();
    const [span] = exporter.getFinishedSpans();
    assert.equal(span.name, "sync.publish");
    assert.equal(span.parentSpanContext, undefined, "an upload starts a trace of its own");
    assert.deepEqual(span.links.map((link) => link.context.traceId), [WRITE_A.slice(3, 35)]);
    assert.equal(span.attributes["outpost.batch.to"], 5);
    const { traceId, spanId } = span.spanContext();
    assert.equal(sent[0].batch.traceparent, `00-${traceId}-${spanId}-01`);
    assert.deepEqual(sent[0].batch.records.map((r) => r.traceparent !== undefined), [
      true,
      true,
      true,
      false,
      false,
    ]);
  });
  await tracing.shutdown();
});

Deno.test("takeBatch stops at the byte bound and at a seq gap, but always takes one row", () => {
  const rows = [1, 2, 3, 5].map((seq) => ({ seq, payload: "{" + "x".repeat(100) + "}" }));
  assert.equal(takeBatch(rows, 10_000).length, 3);
  assert.equal(takeBatch(rows, 300).length, 2);
  assert.equal(takeBatch(rows, 10).length, 1);
});

Deno.test("the publisher sends contiguous batches within the window and waits for acks", async () => {
  await withPublisher({ window: 3, maxRecords: 100 }, async ({ store, publisher, sent }) => {
    await store.insertReadings(readings(1000));
    await publisher.start();
    publisher.connected();
    await until(() => sent.length === 3, "three batches");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(sent.length, 3, "sent beyond the window of unacked batches");
    assert.deepEqual(sent.map((s) => [s.batch.from, s.batch.to]), [[1, 100], [101, 200], [
      201,
      300,
    ]]);
    assert.equal(sent[0].topic, "outpost/v1/dev1/up/batch");
    await publisher.acknowledge(200);
    await until(() => sent.length === 5, "two more batches");
    assert.deepEqual(sent.slice(3).map((s) => s.batch.from), [301, 401]);
    assert.equal((await store.outboxStats()).pending, 800);
    assert.deepEqual((await store.readOutbox(0, 1)).map((r) => r.seq), [201]);
  });
});

Deno.test("the publisher resends from ackedSeq + 1 when no ack arrives in time", async () => {
  await withPublisher(
    { window: 2, maxRecords: 10, ackTimeoutMs: 150 },
    async ({ store, publisher, sent }) => {
      await store.insertReadings(readings(30));
      await publisher.start();
      publisher.connected();
      await until(() => sent.length === 2, "the window");
      await publisher.acknowledge(10);
      await until(() => sent.length === 3, "the third batch");
      // No more acks: after the timeout the publisher starts over at seq 11.
      await until(() => sent.length >= 4, "a resend", 3000);
      assert.equal(sent[3].batch.from, 11);
      assert.equal(publisher.stats.resends >= 1, true);
    },
  );
});

Deno.test("after a reconnect the publisher resends everything not acked", async () => {
  await withPublisher({ window: 4, maxRecords: 5 }, async ({ store, publisher, sent }) => {
    await store.insertReadings(readings(20));
    await publisher.start();
    publisher.connected();
    await until(() => sent.length === 4, "the window");
    await publisher.acknowledge(5);
    publisher.disconnected();
    const before = sent.length;
    publisher.connected();
    await until(() => sent.length > before, "a resend after reconnect");
    assert.equal(sent[before].batch.from, 6);
  });
});

Deno.test("a backlog drains completely with acks and new writes wake the publisher", async () => {
  await withPublisher({ window: 4, maxRecords: 1000 }, async ({ store, publisher, sent }) => {
    await store.insertReadings(readings(5000));
    await publisher.start();
    publisher.connected();
    let acked = 0;
    const acker = setInterval(() => {
      const last = sent.at(-1)?.batch.to ?? 0;
      if (last > acked) {
        acked = last;
        publisher.acknowledge(last);
      }
    }, 5);
    try {
      await until(() => acked === 5000, "the backlog to drain");
      await store.insertEvent({ kind: "k", severity: "info", message: "late" });
      await until(() => acked === 5001, "the new event to be sent");
      assert.equal(sent.reduce((n, s) => n + s.batch.records.length, 0), 5001);
    } finally {
      clearInterval(acker);
    }
  });
});

Deno.test("a device clock that jumps back a day does not stop the resend after a lost ack", async () => {
  // Regression (chaos suite, clock skew): the ack timeout was measured with Date.now(), so a
  // wall clock stepped back (NTP, a wrong RTC) made the oldest batch look 24 h younger and the
  // publisher waited a day before resending a batch whose ack was lost.
  const realNow = Date.now;
  await withPublisher(
    { window: 1, maxRecords: 10, ackTimeoutMs: 150 },
    async ({ store, publisher, sent }) => {
      await store.insertReadings(readings(5));
      await publisher.start();
      publisher.connected();
      await until(() => sent.length === 1, "the first batch");
      Date.now = () => realNow() - 86_400_000;
      try {
        await until(() => sent.length >= 2, "a resend despite the clock jump", 3000);
        assert.equal(sent[1].batch.from, 1);
      } finally {
        Date.now = realNow;
      }
    },
  );
});

Deno.test("acks that arrive together are written in one transaction and free the window before it", async () => {
  await withPublisher({ window: 4, maxRecords: 10 }, async ({ store, publisher, sent }) => {
    await store.insertReadings(readings(100));
    // The store's ack write waits until released: the window must not wait for it.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    const written: number[] = [];
    const acknowledge = store.acknowledge.bind(store);
    store.acknowledge = async (upTo: number) => {
      await gate;
      written.push(upTo);
      return await acknowledge(upTo);
    };
    await publisher.start();
    publisher.connected();
    await until(() => sent.length === 4, "the window");
    const acks = [10, 20, 30, 40].map((upTo) => publisher.acknowledge(upTo));
    await until(() => sent.length === 8, "the next window, before any ack is stored");
    assert.deepEqual(written, []);
    assert.equal(publisher.ackedSeq, 0, "a resend still starts after the stored ack");
    release();
    await Promise.all(acks);
    assert.deepEqual(written, [40], "one write for four acks");
    assert.equal(publisher.stats.ackWrites, 1);
    assert.equal(publisher.ackedSeq, 40);
    assert.equal((await store.outboxStats()).ackedSeq, 40);
    // An ack arriving while one is written is written right after it.
    await Promise.all([publisher.acknowledge(50), publisher.acknowledge(60)]);
    assert.equal((await store.outboxStats()).ackedSeq, 60);
  });
});

Deno.test("batches are sent without waiting for each PUBACK, and a failed publish resends from the ack", async () => {
  const dir = await Deno.makeTempDir();
  const { store, handle } = await openAgentStore(dir);
  const sent: { from: number; fail: (error: Error) => void }[] = [];
  const publisher = new OutboxPublisher({
    store,
    deviceId: "dev1",
    logger: createLogger({ write: () => {} }),
    publish: (_topic, payload) =>
      new Promise((_resolve, reject) => {
        const decoded = decodeMessage(Batch, payload);
        assert.ok(decoded.ok);
        sent.push({ from: decoded.ok ? decoded.value.from : 0, fail: reject });
      }),
    window: 3,
    maxRecords: 10,
    idlePollMs: 20,
  });
  try {
    await store.insertReadings(readings(100));
    await publisher.start();
    publisher.connected();
    // No PUBACK ever comes, yet the whole window goes out.
    await until(() => sent.length === 3, "the window without PUBACKs");
    assert.deepEqual(sent.map((s) => s.from), [1, 11, 21]);
    await publisher.acknowledge(10);
    await until(() => sent.length === 4, "one more batch after the ack");
    sent[2].fail(new Error("broker connection lost"));
    await until(() => sent.length >= 5, "a resend after the failure");
    assert.equal(sent[4].from, 11);
  } finally {
    await publisher.stop();
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
});
