/**
 * Request and response schemas of the cloud API: validation, types and OpenAPI in one place.
 * Enrollment bodies come from the protocol module; bucket widths from the agent API, so both
 * APIs aggregate the same way.
 * @module
 */
import { MAX_JSON_DEPTH, nestsAtMost } from "@outpost/platform/json_limits";
import { z } from "zod";
import { SEVERITIES, text } from "@outpost/protocol";
import { DEVICE_ID_PATTERN } from "@outpost/protocol";
import { BucketParam } from "@outpost/platform/buckets";
import { COMMAND_STATUSES, REQUEST_STATUSES } from "../store/schema.ts";

export { EnrollPending, EnrollRequest, EnrollResponse } from "@outpost/protocol";

/** The most readings one query returns. */
export const MAX_READINGS_PER_QUERY = 10_000;

const isoTime = z.iso.datetime({ offset: true });
const deviceId = z.string().regex(
  DEVICE_ID_PATTERN,
  "must be 1-63 letters, digits, '_', '.' or '-'",
);

/** A device in the fleet list. */
export const DeviceOutput = z.object({
  id: z.string(),
  online: z.boolean(),
  lastSeen: z.string().nullable(),
  ackedSeq: z.number().int(),
  lastSeq: z.number().int(),
  lag: z.number().int().describe("records written on the device and not yet stored here"),
  version: z.string().nullable(),
  arch: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  status: z.enum(["active", "revoked", "decommissioned"]).describe(
    "active: may enroll and connect; revoked: refused until reinstated; decommissioned: retired",
  ),
  statusChangedAt: z.string().nullable(),
});

/** `GET /api/v1/devices` response. */
export const DevicesList = z.object({ items: z.array(DeviceOutput) });

/** `GET /api/v1/devices/:id` response. */
export const DeviceDetailOutput = DeviceOutput.extend({
  enrolledAt: z.string(),
  enrolledWith: z.string().nullable().describe(
    "id of the enrollment token that created it; null: the bootstrap token",
  ),
  pendingRequests: z.number().int().describe("enrollment requests for this id awaiting approval"),
  stats: z.object({ readings: z.number().int(), events: z.number().int() }),
  desired: z.record(z.string(), z.unknown()),
  desiredVersion: z.number().int(),
  appliedVersion: z.number().int(),
  reported: z.record(z.string(), z.unknown()),
});

/** `GET /api/v1/readings` query. */
export const CloudReadingsQueryParams = z.object({
  device: deviceId.optional().describe("only this device"),
  sensor: z.string().max(64).optional().describe("only this sensor"),
  from: isoTime.optional().describe("inclusive start (device time), ISO-8601"),
  to: isoTime.optional().describe("exclusive end (device time), ISO-8601"),
  limit: z.coerce.number().int().min(1).max(MAX_READINGS_PER_QUERY).default(100)
    .describe("rows (or buckets) returned, newest first"),
  bucket: BucketParam.optional().describe("aggregate per device, sensor and bucket"),
});

/** A stored reading. */
export const CloudReadingOutput = z.object({
  device: z.string(),
  seq: z.number().int(),
  sensor: z.string(),
  value: z.number(),
  unit: z.string(),
  ts: z.string().describe("device time"),
  receivedAt: z.string(),
});

/** One aggregate bucket. */
export const CloudReadingBucketOutput = z.object({
  device: z.string(),
  sensor: z.string(),
  bucket: z.string(),
  min: z.number(),
  max: z.number(),
  avg: z.number(),
  count: z.number().int(),
});

/** `GET /api/v1/readings` response. */
export const CloudReadingsList = z.object({
  items: z.union([z.array(CloudReadingOutput), z.array(CloudReadingBucketOutput)]),
});

/** `GET /api/v1/events` query. */
export const CloudEventsQueryParams = z.object({
  device: deviceId.optional().describe("only this device"),
  severity: z.enum(SEVERITIES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** A stored event. */
export const CloudEventOutput = z.object({
  device: z.string(),
  seq: z.number().int(),
  id: z.string(),
  kind: z.string(),
  severity: z.enum(SEVERITIES),
  message: z.string(),
  data: z.unknown().optional(),
  ts: z.string().describe("device time"),
  receivedAt: z.string(),
});

/** `GET /api/v1/events` response. */
export const CloudEventsList = z.object({ items: z.array(CloudEventOutput) });

/** `PUT /api/v1/devices/:id/desired` body: any JSON object. */
export const DesiredInput = z.record(z.string(), z.unknown()).refine(
  // Found by the chaos fuzzer: desired state nested thousands deep was stored, sent to the
  // device and broke its settings page (500) until replaced.
  (desired) => nestsAtMost(desired),
  { message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` },
);

/** `PUT /api/v1/devices/:id/desired` response. */
export const DesiredOutput = z.object({ version: z.number().int() });

/** `POST /api/v1/devices/:id/commands` body. */
export const CommandInput = z.object({
  name: z.string().regex(/^[\w.:-]{1,64}$/, "must be 1-64 letters, digits or _ . : -"),
  args: z.record(z.string(), z.unknown()).refine((args) => nestsAtMost(args), {
    message: `must not nest deeper than ${MAX_JSON_DEPTH} levels`,
  }).optional(),
}).strict();

/** `POST /api/v1/devices/:id/commands` response. */
export const CommandCreated = z.object({ id: z.string() });

/** A command and its state. */
export const CommandOutput = z.object({
  id: z.string(),
  name: z.string(),
  args: z.record(z.string(), z.unknown()).optional(),
  status: z.enum(COMMAND_STATUSES),
  result: z.unknown().optional(),
  error: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** `GET /api/v1/devices/:id/commands` query. */
export const CommandsQueryParams = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /api/v1/devices/:id/commands` response. */
export const CommandsList = z.object({ items: z.array(CommandOutput) });

const labels = z.record(
  z.string().regex(/^[\w./-]{1,64}$/, "must be 1-64 letters, digits or _ . / -"),
  text({ max: 256 }),
);

/** `POST /api/v1/enrollment-tokens` body. */
export const EnrollmentTokenInput = z.object({
  name: text({ max: 100, min: 1 }).describe("what the token is for, e.g. 'north site, batch 3'"),
  labels: labels.optional().describe(
    "labels every device enrolled with it gets (a device cannot override them)",
  ),
  expiresAt: isoTime.optional().describe("after this the token no longer enrolls"),
  maxUses: z.number().int().min(1).max(1_000_000).optional().describe(
    "devices it may create; unset: no limit",
  ),
}).strict();

/** An enrollment token (never the token itself). */
export const EnrollmentTokenOutput = z.object({
  id: z.string(),
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  expiresAt: z.string().nullable(),
  maxUses: z.number().int().nullable(),
  uses: z.number().int().describe("devices created with it"),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  state: z.enum(["active", "revoked", "expired", "used_up"]),
});

/** `POST /api/v1/enrollment-tokens` response: the token, shown this once. */
export const EnrollmentTokenCreated = EnrollmentTokenOutput.extend({
  token: z.string().describe("the secret to give devices (OUTPOST_ENROLL_TOKEN); not stored"),
});

/** `GET /api/v1/enrollment-tokens` response. */
export const EnrollmentTokensList = z.object({ items: z.array(EnrollmentTokenOutput) });

/** An enrollment request. */
export const EnrollmentRequestOutput = z.object({
  id: z.string(),
  deviceId: z.string(),
  status: z.enum(REQUEST_STATUSES),
  tokenId: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  arch: z.string().nullable(),
  version: z.string().nullable(),
  address: z.string().nullable().describe("client address as the proxy reported it (X-Real-IP)"),
  attempts: z.number().int(),
  createdAt: z.string(),
  lastAttemptAt: z.string(),
  decidedAt: z.string().nullable(),
});

/** `GET /api/v1/enrollment-requests` query. */
export const EnrollmentRequestsQueryParams = z.object({
  status: z.enum(REQUEST_STATUSES).optional().describe("default: pending"),
  device: deviceId.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /api/v1/enrollment-requests` response. */
export const EnrollmentRequestsList = z.object({ items: z.array(EnrollmentRequestOutput) });

/** `POST /api/v1/devices/:id/reinstate` body (optional). */
export const ReinstateInput = z.object({
  resetSecret: z.boolean().default(false).describe(
    "forget the device's secret: its next enrollment then needs an operator's approval",
  ),
}).strict();

/** `POST /api/v1/devices/:id/reset-position` body (optional). */
export const ResetPositionInput = z.object({
  ackedSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe(
    "new position, never below the current one; default: the current contiguous position",
  ),
}).strict();

/** `POST /api/v1/devices/:id/reset-position` response. */
export const ResetPositionOutput = z.object({
  ackedSeq: z.number().int(),
  lastSeq: z.number().int(),
  discarded: z.object({ readings: z.number().int(), events: z.number().int() }).describe(
    "rows stored above the position, dropped (the device resends what it has)",
  ),
});

/** `DELETE /api/v1/devices/:id` query. */
export const DeleteDeviceQueryParams = z.object({
  data: z.enum(["keep", "purge"]).describe(
    "keep: readings, events and commands stay queryable; purge: they are deleted",
  ),
});

/** `DELETE /api/v1/devices/:id` response. */
export const DeleteDeviceOutput = z.object({
  id: z.string(),
  data: z.enum(["kept", "purged"]),
  readings: z.number().int(),
  events: z.number().int(),
});
