/**
 * Request and response schemas of the agent API: validation, types and OpenAPI in one place.
 * @module
 */
import { z } from "zod";
import { MAX_JSON_DEPTH, nestsAtMost } from "@outpost/platform/json_limits";
import { DeviceTime, EventMessage, Name, ReadingValue, SEVERITIES, Unit } from "@outpost/protocol";
import { SYNC_PROBLEMS, SYNC_STATES } from "../sync/state.ts";
import { BucketParam } from "@outpost/platform/buckets";

/** The most readings one request may carry. */
export const MAX_READINGS_PER_REQUEST = 10_000;

const isoTime = z.iso.datetime({ offset: true });

/**
 * One reading as posted. The field rules are the protocol's (`agent/protocol/fields.ts`), so
 * what is accepted here is what the cloud stores; `ts` must also lie in the agent's window.
 */
export const ReadingInput = z.object({
  sensor: Name,
  value: ReadingValue,
  unit: Unit.default(""),
  ts: DeviceTime.optional().describe(
    "device time, ISO-8601 with a zone; default now. 1970 to 2100, and within OUTPOST_TS_MAX_AGE before / OUTPOST_TS_MAX_AHEAD after the device clock",
  ),
}).strict();

/** `POST /api/v1/readings` body as an array. */
export const ReadingsArray = z.array(ReadingInput).min(1).max(MAX_READINGS_PER_REQUEST);

/**
 * `POST /api/v1/readings` body: one reading or an array of them. (Validation picks the branch
 * by the body's shape, so errors name the fields of that branch; see `readings.ts`.)
 */
export const ReadingsBody = z.union([ReadingInput, ReadingsArray]);

/** `POST /api/v1/readings` response. */
export const ReadingsAccepted = z.object({ accepted: z.number().int(), lastSeq: z.number().int() });

/** `GET /api/v1/readings` query. */
export const ReadingsQueryParams = z.object({
  sensor: z.string().max(64).optional().describe("only this sensor"),
  from: isoTime.optional().describe("inclusive start, ISO-8601"),
  to: isoTime.optional().describe("exclusive end, ISO-8601"),
  limit: z.coerce.number().int().min(1).max(MAX_READINGS_PER_REQUEST).default(100)
    .describe("rows (or buckets) returned, newest first"),
  bucket: BucketParam.optional().describe("aggregate per bucket: min/max/avg/count"),
});

/** A stored reading. */
export const ReadingOutput = z.object({
  seq: z.number().int(),
  sensor: z.string(),
  value: z.number(),
  unit: z.string(),
  ts: z.string(),
});

/** One aggregate bucket. */
export const ReadingBucketOutput = z.object({
  sensor: z.string(),
  bucket: z.string(),
  min: z.number(),
  max: z.number(),
  avg: z.number(),
  count: z.number().int(),
});

/** `GET /api/v1/readings` response. */
export const ReadingsList = z.object({
  items: z.union([z.array(ReadingOutput), z.array(ReadingBucketOutput)]),
});

/** Deepest nesting of an event's `data`. */
export const MAX_EVENT_DATA_DEPTH = MAX_JSON_DEPTH;
/**
 * Largest event `data` as JSON. Every record must fit well inside one MQTT message (the cloud
 * drops payloads over 2 MiB): a larger one would be resent forever and block every record
 * after it.
 */
export const MAX_EVENT_DATA_BYTES = 64 * 1024;

/** `POST /api/v1/events` body. */
export const EventInput = z.object({
  kind: Name,
  severity: z.enum(SEVERITIES),
  message: EventMessage,
  ts: DeviceTime.optional().describe(
    "when it happened (device time), ISO-8601 with a zone; default now. Same bounds as a reading's ts",
  ),
  // Bounded in depth and size (found by the chaos fuzzer): a deeply nested object overflowed
  // the stack when stored (500), and an over-large one, once stored, could never be delivered.
  data: z.record(z.string(), z.unknown()).superRefine((data, ctx) => {
    if (!nestsAtMost(data, MAX_EVENT_DATA_DEPTH)) {
      ctx.addIssue({
        code: "custom",
        message: `must not nest deeper than ${MAX_EVENT_DATA_DEPTH} levels`,
      });
    } else if (new TextEncoder().encode(JSON.stringify(data)).byteLength > MAX_EVENT_DATA_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `must be at most ${MAX_EVENT_DATA_BYTES} bytes as JSON`,
      });
    }
  }).optional(),
}).strict();

/** A stored event. */
export const EventOutput = z.object({
  id: z.string(),
  seq: z.number().int(),
  kind: z.string(),
  severity: z.enum(SEVERITIES),
  message: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  ts: z.string().describe("when it happened (device time); the cloud calls it ts too"),
  createdAt: z.string().describe("when the agent stored it (kept for clients written before ts)"),
});

/** `POST /api/v1/events` response. */
export const EventCreated = z.object({ id: z.string(), seq: z.number().int() });

/** `GET /api/v1/events` query. */
export const EventsQueryParams = z.object({
  kind: z.string().max(64).optional(),
  severity: z.enum(SEVERITIES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /api/v1/events` response. */
export const EventsList = z.object({ items: z.array(EventOutput) });

/** `GET /api/v1/sync` response. */
export const SyncStatusOutput = z.object({
  state: z.enum(SYNC_STATES),
  pending: z.number().int(),
  lastSeq: z.number().int(),
  ackedSeq: z.number().int(),
  lastAckAt: z.string().nullable(),
  /** The last failure's own words: for details and logs, not for the headline. */
  lastError: z.string().nullable(),
  /** What keeps the agent from syncing, as a code (see `SYNC_PROBLEMS`); null when none. */
  problem: z.enum(SYNC_PROBLEMS).nullable(),
  /** When the current state began (online since, failing since). */
  since: z.string().nullable(),
  /** The next attempt while backing off. */
  nextAttemptAt: z.string().nullable(),
  /** The broker URL in use or being tried, without credentials; null before there is one. */
  brokerUrl: z.string().nullable(),
});

/** `GET /api/v1/config` response. */
export const ConfigOutput = z.object({
  desired: z.record(z.string(), z.unknown()),
  desiredVersion: z.number().int(),
  appliedVersion: z.number().int(),
  lastFailure: z.object({ version: z.number().int(), reason: z.string() }).optional()
    .describe("the newest desired version, when it was refused (the agent keeps appliedVersion)"),
});

/** Liveness/readiness response. */
export const HealthOutput = z.object({ status: z.string() }).passthrough();
