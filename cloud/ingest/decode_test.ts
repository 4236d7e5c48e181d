import assert from "node:assert/strict";
import { reading, readingBatch } from "../testing/fixtures.ts";
import { decodeBatch, decodeBatchWithSchemas, isPlainReadingBatch } from "./decode.ts";

const encode = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

/** What the schemas alone decide: the reference the fast path must agree with. */
const viaSchema = decodeBatchWithSchemas;

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
  ["a NUL in a unit", {
    ...valid,
    records: [{ ...reading(5), unit: "a\u0000b" }, ...valid.records.slice(1)],
  }],
  ["a control character in a sensor", {
    ...valid,
    records: [{ ...reading(5), sensor: "t\u0007" }, ...valid.records.slice(1)],
  }],
  ["a value of 1.797e308", {
    ...valid,
    records: [{ ...reading(5), value: Number.MAX_VALUE }, ...valid.records.slice(1)],
  }],
  ["a ts in year 9999", {
    ...valid,
    records: [{ ...reading(5), ts: "9999-12-31T23:59:59Z" }, ...valid.records.slice(1)],
  }],
  ["a ts in year 0001", {
    ...valid,
    records: [{ ...reading(5), ts: "0001-01-01T00:00:00Z" }, ...valid.records.slice(1)],
  }],
  ["a ts on February 30", {
    ...valid,
    records: [{ ...reading(5), ts: "2026-02-30T00:00:00Z" }, ...valid.records.slice(1)],
  }],
  ["a ts on December 31 (valid, past the fast path's day 28)", {
    ...valid,
    records: valid.records.map((r) => ({ ...r, ts: "2026-12-31T23:59:59.999+01:00" })),
  }],
  ["a ts without a zone", {
    ...valid,
    records: [{ ...reading(5), ts: "2026-11-26T10:00:00" }, ...valid.records.slice(1)],
  }],
  // Regression (chaos --broker=nats seed 1383306439): the fast path compared each ts with the
  // previous one, starting from "", so an empty ts on the first record was never checked; the
  // batch was accepted and the store failed (NOT NULL readings.device_ts).
  ["an empty ts on the first record", {
    from: 1000770630,
    to: 1000770630,
    records: [{ ...reading(1000770630), ts: "" }],
  }],
  ["an empty ts on every record", {
    ...valid,
    records: valid.records.map((r) => ({ ...r, ts: "" })),
  }],
  ["a ts as a number", {
    ...valid,
    records: [{ ...reading(5), ts: 1796389679 }, ...valid.records.slice(1)],
  }],
];

for (const [name, value] of cases) {
  Deno.test(`decodeBatch decides as the schema does: ${name}`, () => {
    const payload = encode(value);
    const fast = decodeBatch(payload);
    const slow = viaSchema(payload);
    assert.deepEqual(fast, slow);
  });
}

Deno.test("a broken envelope rejects the batch whole, naming its range when it says one", () => {
  for (
    const [value, reason] of [
      [{ ...valid, to: 9 }, "range_mismatch"],
      [{ from: 1, to: 1, records: [{ ...reading(1), type: "other" }] }, "schema"],
      [{ from: 1, to: 1, records: {} }, "schema"],
      ["{", "malformed_json"],
    ] as const
  ) {
    const decoded = decodeBatch(encode(value));
    assert.equal(decoded.ok, false, JSON.stringify(value));
    if (!decoded.ok) assert.equal(decoded.reason, reason);
  }
  const lying = decodeBatch(encode({ ...valid, to: 9 }));
  assert.ok(!lying.ok && lying.from === 5 && lying.to === 9);
});

Deno.test("a record breaking a field rule is dropped alone and named; the rest is kept", () => {
  const records = valid.records.map((record, i) =>
    i === 1
      ? { ...record, unit: "a\u0000b" }
      : i === 3
      ? { ...record, ts: "9999-12-31T00:00:00Z" }
      : record
  );
  const decoded = decodeBatch(encode({ ...valid, records }));
  assert.ok(decoded.ok);
  if (!decoded.ok) return;
  assert.deepEqual(decoded.value.records.map((r) => r.seq), [5, 7]);
  assert.deepEqual(decoded.value.from, 5);
  assert.deepEqual(decoded.value.to, 8);
  assert.deepEqual(decoded.dropped.map((d) => d.seq), [6, 8]);
  assert.match(
    decoded.dropped[0].error,
    /^records\.1\.unit: must not contain control characters \(U\+0000 at position 1\)/,
  );
  assert.match(
    decoded.dropped[1].error,
    /^records\.3\.ts: must be from 1970-01-01T00:00:00Z to before 2100/,
  );
});

Deno.test("the fast path takes plain reading batches and leaves everything else to the schema", () => {
  assert.equal(isPlainReadingBatch(readingBatch(1, 1000)), true);
  assert.equal(
    isPlainReadingBatch({ from: 1, to: 1, records: [{ ...reading(1), ts: "" }] }),
    false,
  );
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
