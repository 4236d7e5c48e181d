/**
 * THE message contract (protocol v1): zod schemas of every MQTT payload and of enrollment.
 * Exported for the cloud, which imports this module rather than redefining anything.
 * @module
 */
import { z } from "zod";
import { Labels } from "./labels.ts";
import { OutboxPayload, RECORD_TYPES } from "./records.ts";
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

/** Checks that `records` are exactly `from..to`, in order (what every batch must hold). */
function checkRange(
  batch: { from: number; to: number; records: { seq: number }[] },
  ctx: z.RefinementCtx,
): void {
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
}

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
}).superRefine(checkRange);
/** Type of {@link Batch}. */
export type Batch = z.infer<typeof Batch>;

/**
 * What every batch must be for the cloud to look at its records: `from..to` with exactly those
 * seqs, each record an object of a known type. A batch that fails this is rejected whole; a
 * record that passes it but breaks a field rule of its type is dropped alone (the cloud acks over
 * it and says so in the ack), so one bad record never blocks a device's sync.
 */
export const BatchEnvelope = z.object({
  from: seq,
  to: seq,
  traceparent: Traceparent.optional(),
  records: z.array(z.looseObject({ seq, type: z.enum(RECORD_TYPES) })).min(1)
    .max(MAX_BATCH_RECORDS),
}).superRefine(checkRange);
/** Type of {@link BatchEnvelope}. */
export type BatchEnvelope = z.infer<typeof BatchEnvelope>;

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

/**
 * `up/hello`: sent by the agent (QoS 1, not retained) on every connect, right after it
 * subscribed to its downlink. The cloud answers on the device's own downlink, QoS 1 and not
 * retained, with a plain `down/ack {upTo}` (its acked seq for the device, also when 0) and,
 * when it holds a desired state newer than `desiredVersion` (or `desiredVersion` is absent),
 * `down/desired`. So a device learns both without relying on a broker's retained copies,
 * which a clustered broker may keep on another node or lose. Fields the cloud does not know
 * are ignored (a later `v` may add some); a hello from an unknown, revoked or decommissioned
 * device is refused like any uplink and not answered.
 */
export const Hello = z.object({
  /** Version of this message's shape; 1 for the fields below. */
  v: z.number().int().min(1).max(1000),
  /** The agent's software version. */
  agentVersion: z.string().max(64),
  outbox: z.object({
    /** The device's last seq (0: nothing written yet). */
    head: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** The highest seq the device knows the cloud acked. */
    acked: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
  /** The desired-state version the device holds (0: none). */
  desiredVersion: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
/** Type of {@link Hello}. */
export type Hello = z.infer<typeof Hello>;

/** A note in an ack: which seqs, why, in words (at most 500 characters). */
const AckNote = z.object({
  from: seq.optional(),
  to: seq.optional(),
  reason: z.string().max(64),
  message: z.string().max(500),
});

/**
 * `down/ack`: the cloud has committed every seq up to `upTo` (contiguously).
 *
 * Two optional notes tell the device what the cloud did not take; acks carrying one are sent
 * once, not retained (agents before these notes ignore them and see a plain ack):
 * - `refused`: a batch rejected whole, nothing stored (e.g. `implausible_seq`: its `from` is
 *   too far beyond what the cloud holds). The device resends it after its ack timeout as usual.
 * - `dropped`: records of a stored batch that broke a field rule; the ack covers them, so the
 *   device will not resend them (at most 100 listed).
 */
export const Ack = z.object({
  upTo: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  refused: AckNote.optional(),
  dropped: z.array(AckNote).max(100).optional(),
});
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

/** A device secret: 32–256 printable ASCII characters, generated on the device. */
export const DEVICE_SECRET_PATTERN = /^[\x21-\x7e]{32,256}$/;

/**
 * `POST /api/v1/enroll` body.
 *
 * `deviceSecret` is the device's identity: generated on the device before its first
 * enrollment, kept in its data dir, sent with every enrollment; the cloud keeps only a hash.
 * Re-enrolling an existing device id needs it (or an operator's approval of the request);
 * `token` (an enrollment token) is needed to create a device or ask for that approval, not to
 * re-enroll with the right secret.
 */
export const EnrollRequest = z.object({
  deviceId: z.string().regex(DEVICE_ID_PATTERN, "must be 1-63 letters, digits, '_', '.' or '-'"),
  token: z.string().min(1).max(512).optional(),
  deviceSecret: z.string().regex(
    DEVICE_SECRET_PATTERN,
    "must be 32-256 printable ASCII characters without spaces",
  ).optional(),
  /** Kubernetes label syntax (see `labels.ts`); a bad key or value is named in the 422. */
  labels: Labels.optional(),
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
    /** The first broker URL (what agents before `urls` use). */
    url: z.string(),
    /**
     * Every broker URL, `url` first (the nodes of a clustered broker): the agent connects to
     * one and moves on to the next when that connection fails or drops. Absent from clouds
     * and stored credentials that predate it: then `[url]` (see {@link brokerUrls}).
     */
    urls: z.array(z.string()).min(1).max(32).optional(),
    username: z.string(),
    password: z.string(),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
    /**
     * The QoS of the device's downlink subscription. 1 (Mosquitto, embedded): the broker queues
     * what the device missed while away. 0 (NATS): in nats-server 2.9 every QoS 1 MQTT
     * subscription is a JetStream consumer created through the cluster's meta leader, which a
     * fleet of 10,000 did not survive; nothing is lost at 0 because the cloud answers every
     * hello with the ack position, the desired state and the open commands.
     */
    downlinkQos: z.union([z.literal(0), z.literal(1)]).default(1),
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

/** The broker URLs of an enrollment answer, in order: `urls`, or `[url]` when it has none. */
export function brokerUrls(mqtt: { url: string; urls?: string[] }): string[] {
  return mqtt.urls?.length ? mqtt.urls : [mqtt.url];
}

/**
 * `POST /api/v1/enroll` answer 202: the device id exists and the request did not prove to be
 * that device (no or another device secret), so it waits for an operator to approve it
 * (`POST /api/v1/enrollment-requests/:id/approve`). Retrying the same request (same secret)
 * is how the device learns the outcome: 200 with credentials once approved, 403
 * `enrollment_rejected` if rejected.
 */
export const EnrollPending = z.object({
  status: z.literal("pending_approval"),
  requestId: z.string(),
  deviceId: z.string(),
  message: z.string(),
});
/** Type of {@link EnrollPending}. */
export type EnrollPending = z.infer<typeof EnrollPending>;

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
 * Parses a payload as UTF-8 JSON, refusing one over {@link MAX_MESSAGE_BYTES}; returns a failure
 * code and message instead of throwing.
 */
export function parsePayload(payload: Uint8Array | string): Decoded<unknown> {
  if (typeof payload !== "string" && payload.byteLength > MAX_MESSAGE_BYTES) {
    return {
      ok: false,
      reason: "oversized",
      error: `payload of ${payload.byteLength} bytes exceeds ${MAX_MESSAGE_BYTES}`,
    };
  }
  try {
    const text = typeof payload === "string"
      ? payload
      : new TextDecoder("utf-8", { fatal: true }).decode(payload);
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return {
      ok: false,
      reason: "malformed_json",
      error: `not JSON: ${(error as Error).message.slice(0, 120)}`,
    };
  }
}

/** Checks parsed JSON against a schema: the value, or the first issue as a failure. */
export function checkSchema<T extends z.ZodType>(schema: T, json: unknown): Decoded<z.infer<T>> {
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
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
  const parsed = parsePayload(payload);
  if (!parsed.ok) return parsed;
  if (accept?.(parsed.value)) return { ok: true, value: parsed.value };
  return checkSchema(schema, parsed.value);
}
