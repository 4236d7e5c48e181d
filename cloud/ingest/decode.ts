/**
 * Decoding an `up/batch` payload in two levels:
 *
 * 1. The envelope (`BatchEnvelope`): `from..to` with exactly those seqs, records of known
 *    types. A batch that fails it is rejected whole: nothing about it can be trusted.
 * 2. Each record against its type's schema (`BatchRecord`, the field rules of
 *    `agent/protocol/fields.ts`). A record that fails is dropped alone and reported; the rest
 *    of the batch is stored and the ack covers the dropped seqs, so one bad record (say, a NUL
 *    in a unit written by an agent older than the rule) never blocks the device's sync.
 *
 * With a fast path for the common batch: readings only, each exactly
 * `{seq,type,sensor,value,unit,ts}` (plus, optionally, a `traceparent`) and valid. Checking those
 * by hand costs a fraction of the
 * zod schema (about 1 ms per 1,000 records here, a tenth of a libSQL commit); anything else —
 * events, extra keys, any doubt — goes through the schemas, so the outcome is the same.
 * @module
 */
import {
  type Batch,
  BatchEnvelope,
  BatchRecord,
  checkSchema,
  type DecodeFailure,
  isPlainDeviceTime,
  isReadingValue,
  isTraceparent,
  isUnit,
  MAX_BATCH_RECORDS,
  NAME_PATTERN,
  parsePayload,
  ReadingRecord,
} from "@outpost/protocol";

/** A record the cloud dropped: its seq and the first rule it broke. */
export interface DroppedRecord {
  seq: number;
  /** `records.<i>.<field>: <rule>`, as a schema failure names it. */
  error: string;
}

/** What decoding a batch gave: the batch and the records dropped from it, or why it is rejected. */
export type DecodedBatch =
  | { ok: true; value: Batch; dropped: DroppedRecord[] }
  | { ok: false; reason: DecodeFailure; error: string; from?: number; to?: number };

/** The ts the fast path has checked before its first record. */
const UNCHECKED = Symbol("no ts checked yet");

/** `seq` plus the reading's own fields. */
const READING_KEYS = 1 + Object.keys(ReadingRecord.shape).length;

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

/** `object` has exactly `keys` keys, or those plus a valid `traceparent` (see the protocol). */
function hasKeys(object: Record<string, unknown>, keys: number): boolean {
  const count = Object.keys(object).length;
  return count === keys || (count === keys + 1 && isTraceparent(object.traceparent));
}

/**
 * True when `json` is a batch of plain, valid readings the schemas would accept unchanged (so
 * it can be used as is). False says nothing: the schemas decide.
 */
export function isPlainReadingBatch(json: unknown): json is Batch {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return false;
  const batch = json as Record<string, unknown>;
  const { from, to, records } = batch;
  if (!hasKeys(batch, 3) || !isSeq(from) || !isSeq(to)) return false;
  if (!Array.isArray(records) || records.length < 1 || records.length > MAX_BATCH_RECORDS) {
    return false;
  }
  if (to - from + 1 !== records.length) return false;
  // Nothing a payload can hold: the first record's ts is always checked (starting from "" let
  // an empty ts through unchecked, and the store then failed on it).
  let lastTs: unknown = UNCHECKED;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (typeof record !== "object" || record === null || Array.isArray(record)) return false;
    const { seq, type, sensor, value, unit, ts } = record as Record<string, unknown>;
    if (
      seq !== from + i || type !== "reading" ||
      typeof sensor !== "string" || !NAME_PATTERN.test(sensor) ||
      !isReadingValue(value) || !isUnit(unit) ||
      // Batches mostly repeat one time: check each distinct one once.
      (ts !== lastTs && !isPlainDeviceTime(ts)) ||
      !hasKeys(record as Record<string, unknown>, READING_KEYS)
    ) {
      return false;
    }
    lastTs = ts;
  }
  return true;
}

/** The first seq and the last of a payload that failed, when it says them. */
function rangeOf(json: unknown): { from?: number; to?: number } {
  if (typeof json !== "object" || json === null) return {};
  const { from, to } = json as Record<string, unknown>;
  return { ...(isSeq(from) ? { from } : {}), ...(isSeq(to) ? { to } : {}) };
}

/** Decodes and validates an `up/batch` payload; see the module's two levels. */
export function decodeBatch(payload: Uint8Array): DecodedBatch {
  const parsed = parsePayload(payload);
  if (!parsed.ok) return parsed;
  const json = parsed.value;
  if (isPlainReadingBatch(json)) return { ok: true, value: json, dropped: [] };
  return checkBatch(json);
}

/** {@link decodeBatch} without the fast path: the schemas alone decide (the reference). */
export function decodeBatchWithSchemas(payload: Uint8Array): DecodedBatch {
  const parsed = parsePayload(payload);
  return parsed.ok ? checkBatch(parsed.value) : parsed;
}

function checkBatch(json: unknown): DecodedBatch {
  const envelope = checkSchema(BatchEnvelope, json);
  if (!envelope.ok) return { ...envelope, ...rangeOf(json) };
  const { from, to, traceparent } = envelope.value;
  const records: Batch["records"] = [];
  const dropped: DroppedRecord[] = [];
  envelope.value.records.forEach((raw, i) => {
    const record = checkSchema(BatchRecord, raw);
    if (record.ok) {
      records.push(record.value);
    } else {
      dropped.push({
        seq: raw.seq,
        error: record.error.replace(/^schema: /, `records.${i}.`),
      });
    }
  });
  return {
    ok: true,
    value: { from, to, ...(traceparent === undefined ? {} : { traceparent }), records },
    dropped,
  };
}
