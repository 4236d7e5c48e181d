/**
 * THE message contract (protocol v1): zod schemas of every MQTT payload and of enrollment.
 * Exported for the cloud, which imports this module rather than redefining anything.
 * @module
 */
import { z } from "zod";
import { OutboxPayload } from "./records.ts";
import { DEVICE_ID_PATTERN } from "./topics.ts";
import { Traceparent } from "./trace.ts";

/** The most records one batch carries. */
export const MAX_BATCH_RECORDS = 1000;
/** The most bytes one batch payload takes; a record larger than this is sent alone. */
export const MAX_BATCH_BYTES = 512 * 1024;
/** The largest payload the cloud accepts on any topic. */
export const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/**
 * One record of a batch: its seq, the outbox payload and, optionally, the trace context of the
 * write that produced it (see `trace.ts`).
 */
export const BatchRecord = z.intersection(
  z.object({ seq, traceparent: Traceparent.optional() }),
  OutboxPayload,
);
/** Type of {@link BatchRecord}. */
export type BatchRecord = z.infer<typeof BatchRecord>;

/**
 * `up/batch`: a contiguous outbox range. The records must be exactly `from..to`, in order —
 * a batch that lies about its range is rejected whole.
 */
export const Batch = z.object({
  from: seq,
  to: seq,
  /** The upload's trace context (optional, see `trace.ts`). */
  traceparent: Traceparent.optional(),
  records: z.array(BatchRecord).min(1).max(MAX_BATCH_RECORDS),
}).superRefine((batch, ctx) => {
  if (batch.to - batch.from + 1 !== batch.records.length) {
    ctx.addIssue({
      code: "custom",
      path: ["records"],
      params: { reason: "range_mismatch" },
      message: `range ${batch.from}..${batch.to} needs ${
        batch.to - batch.from + 1
      } records, got ${batch.records.length}`,
    });
    return;
  }
  for (let i = 0; i < batch.records.length; i++) {
    if (batch.records[i].seq !== batch.from + i) {
      ctx.addIssue({
        code: "custom",
        path: ["records", i, "seq"],
        params: { reason: "range_mismatch" },
        message: `expected seq ${batch.from + i}, got ${batch.records[i].seq}`,
      });
      return;
    }
  }
});
/** Type of {@link Batch}. */
export type Batch = z.infer<typeof Batch>;

/** `up/status`: retained presence; the Last Will carries `online: false`. */
export const Status = z.object({
  online: z.boolean(),
  version: z.string().max(64).optional(),
  arch: z.string().max(32).optional(),
  lastSeq: z.number().int().min(0).optional(),
  ts: z.string().max(40).optional(),
});
/** Type of {@link Status}. */
export type Status = z.infer<typeof Status>;

/** `down/ack`: the cloud has committed every seq up to `upTo` (contiguously). */
export const Ack = z.object({ upTo: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });
/** Type of {@link Ack}. */
export type Ack = z.infer<typeof Ack>;

/** `down/desired`: retained desired configuration; versions only go up. */
export const Desired = z.object({
  version: z.number().int().min(1),
  desired: z.record(z.string(), z.unknown()),
});
/** Type of {@link Desired}. */
export type Desired = z.infer<typeof Desired>;

/** Command names every agent understands. */
export const COMMAND_NAMES = ["ping", "resync", "set-log-level"] as const;

/** `down/cmd`: a command; the device answers with a `command_result` record. */
export const Command = z.object({
  id: z.string().regex(/^[\w-]{1,64}$/),
  name: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()).optional(),
});
/** Type of {@link Command}. */
export type Command = z.infer<typeof Command>;

/** `POST /api/v1/enroll` body. */
export const EnrollRequest = z.object({
  deviceId: z.string().regex(DEVICE_ID_PATTERN, "must be 1-63 letters, digits, '_', '.' or '-'"),
  token: z.string().min(1).max(512),
  labels: z.record(z.string().max(64), z.string().max(256)).optional(),
  arch: z.string().max(32).optional(),
  version: z.string().max(64).optional(),
  /** The highest seq the device knows the cloud acked (0 for a fresh data dir). */
  ackedSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
}).strict();
/** Type of {@link EnrollRequest}. */
export type EnrollRequest = z.infer<typeof EnrollRequest>;

/**
 * `POST /api/v1/enroll` response. `protocolVersion` tells the device which MQTT protocol its
 * broker speaks: 5 for Mosquitto, 4 (3.1.1) for the embedded development broker.
 */
export const EnrollResponse = z.object({
  deviceId: z.string(),
  mqtt: z.object({
    url: z.string(),
    username: z.string(),
    password: z.string(),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
  }),
  /**
   * The cloud's acked seq for this device after enrollment. Above the device's own, the device
   * lost its data dir: it renumbers its unacked records to follow it, so they are not mistaken
   * for duplicates of what the cloud already stored.
   */
  ackedSeq: z.number().int().min(0).default(0),
});
/** Type of {@link EnrollResponse}. */
export type EnrollResponse = z.infer<typeof EnrollResponse>;

/** Why a payload could not be decoded; the ingest counts rejections by these. */
export const DECODE_FAILURES = ["oversized", "malformed_json", "schema", "range_mismatch"] as const;
/** One of {@link DECODE_FAILURES}. */
export type DecodeFailure = typeof DECODE_FAILURES[number];

/** What {@link decodeMessage} gives: the value, or a failure code and a message naming the field. */
export type Decoded<T> = { ok: true; value: T } | {
  ok: false;
  reason: DecodeFailure;
  error: string;
};

/**
 * Decodes a JSON payload against a schema; returns a failure code and message instead of
 * throwing.
 * `accept`, when given, is a cheaper check of the common shape: JSON it accepts is taken as is
 * (it must only accept what the schema would return unchanged); the rest goes to the schema.
 */
export function decodeMessage<T extends z.ZodType>(
  schema: T,
  payload: Uint8Array | string,
  accept?: (json: unknown) => json is z.infer<T>,
): Decoded<z.infer<T>> {
  if (typeof payload !== "string" && payload.byteLength > MAX_MESSAGE_BYTES) {
    return {
      ok: false,
      reason: "oversized",
      error: `payload of ${payload.byteLength} bytes exceeds ${MAX_MESSAGE_BYTES}`,
    };
  }
  let json: unknown;
  try {
    const text = typeof payload === "string"
      ? payload
      : new TextDecoder("utf-8", { fatal: true }).decode(payload);
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      reason: "malformed_json",
      error: `not JSON: ${(error as Error).message.slice(0, 120)}`,
    };
  }
  if (accept?.(json)) return { ok: true, value: json };
  const result = schema.safeParse(json);
  if (!result.success) {
    const first = result.error.issues[0];
    const reason = first.code === "custom" && first.params?.reason === "range_mismatch"
      ? "range_mismatch"
      : "schema";
    return {
      ok: false,
      reason,
      error: `schema: ${first.path.join(".") || "(root)"}: ${first.message}`,
    };
  }
  return { ok: true, value: result.data };
}
