import assert from "node:assert/strict";
import { Batch, decodeMessage } from "@outpost/protocol";
import { reading, readingBatch } from "../testing/fixtures.ts";
import { badTimestamp, decodeBatch, isPlainReadingBatch } from "./decode.ts";

const encode = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

/** What the ingest decided before the fast path: the schema, then the timestamps. */
function viaSchema(payload: Uint8Array) {
  const decoded = decodeMessage(Batch, payload);
  if (!decoded.ok) return decoded;
  const error = badTimestamp(decoded.value);
  return error ? { ok: false as const, reason: "schema" as const, error } : decoded;
}

const valid = readingBatch(5, 8);
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const cases: [string, unknown][] = [
  ["plain readings", valid],
  ["traced readings and a traced batch", {
    ...valid,
    traceparent: TRACEPARENT,
    records: valid.records.map((record) => ({ ...record, traceparent: TRACEPARENT })),
  }],
  ["a malformed traceparent on a record", {
    ...valid,
    records: [{ ...reading(5), traceparent: "00-xyz" }, ...valid.records.slice(1)],
  }],
  ["a malformed traceparent on the batch", { ...valid, traceparent: "nope" }],
  ["one record", readingBatch(1, 1)],
  ["1,000 records", readingBatch(1, 1000)],
  ["1,001 records", readingBatch(1, 1001)],
  ["a record with an extra key (stripped by the schema)", {
    ...valid,
    records: [{ ...reading(5), extra: 1 }, ...valid.records.slice(1)],
  }],
  ["an extra top-level key", { ...valid, more: true }],
  ["an event among readings", {
    from: 1,
    to: 2,
    records: [reading(1), {
      seq: 2,
      type: "event",
      id: "e",
      kind: "k",
      severity: "info",
      message: "m",
      ts: "2026-11-26T10:00:00Z",
    }],
  }],
  ["a seq out of order", {
    ...valid,
    records: [valid.records[1], valid.records[0], ...valid.records.slice(2)],
  }],
  ["a range that lies", { ...valid, to: 9 }],
  ["from 0", readingBatch(0, 2)],
  ["a fractional seq", { from: 1.5, to: 1.5, records: [{ ...reading(1), seq: 1.5 }] }],
  ["an empty sensor", {
    ...valid,
    records: [{ ...reading(5), sensor: "" }, ...valid.records.slice(1)],
  }],
  ["a sensor of 65 characters", {
    ...valid,
    records: [{ ...reading(5), sensor: "s".repeat(65) }, ...valid.records.slice(1)],
  }],
  ["a unit of 17 characters", {
    ...valid,
    records: [{ ...reading(5), unit: "u".repeat(17) }, ...valid.records.slice(1)],
  }],
  ["a ts of 41 characters", {
    ...valid,
    records: [{ ...reading(5), ts: "2".repeat(41) }, ...valid.records.slice(1)],
  }],
  ["a ts that is not a date", {
    ...valid,
    records: [...valid.records.slice(0, 3), { ...reading(8), ts: "yesterday" }],
  }],
  ["a value as a string", {
    ...valid,
    records: [{ ...reading(5), value: "1" }, ...valid.records.slice(1)],
  }],
  ["a null value", {
    ...valid,
    records: [{ ...reading(5), value: null }, ...valid.records.slice(1)],
  }],
  ["a missing unit", {
    ...valid,
    records: [{ seq: 5, type: "reading", sensor: "t", value: 1, ts: "2026-11-26T10:00:00Z" }],
  }],
  ["an unknown type", { from: 1, to: 1, records: [{ ...reading(1), type: "other" }] }],
  ["records not an array", { from: 1, to: 1, records: {} }],
  ["an array", [valid]],
  ["null", null],
  ["no records", { from: 1, to: 0, records: [] }],
  [
    "a __proto__ key",
    `{"from":1,"to":1,"records":[{"seq":1,"type":"reading","sensor":"t","value":1,"unit":"","ts":"2026-11-26T10:00:00Z","__proto__":{"x":1}}]}`,
  ],
  ["not JSON", "{"],
];

for (const [name, value] of cases) {
  Deno.test(`decodeBatch decides as the schema does: ${name}`, () => {
    const payload = encode(value);
    const fast = decodeBatch(payload);
    const slow = viaSchema(payload);
    assert.equal(fast.ok, slow.ok);
    if (fast.ok && slow.ok) assert.deepEqual(fast.value, slow.value);
    else assert.deepEqual(fast, slow);
  });
}

Deno.test("the fast path takes plain reading batches and leaves everything else to the schema", () => {
  assert.equal(isPlainReadingBatch(readingBatch(1, 1000)), true);
  assert.equal(isPlainReadingBatch({ ...valid, more: 1 }), false);
  assert.equal(isPlainReadingBatch({ ...valid, traceparent: TRACEPARENT }), true);
  assert.equal(
    isPlainReadingBatch({ from: 1, to: 1, records: [{ ...reading(1), traceparent: "x" }] }),
    false,
  );
  assert.equal(
    isPlainReadingBatch({ from: 1, to: 1, records: [{ ...reading(1), extra: 1 }] }),
    false,
  );
});
