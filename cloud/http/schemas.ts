/**
 * Request and response schemas of the cloud API: validation, types and OpenAPI in one place.
 * Enrollment bodies come from the protocol module; bucket widths from the agent API, so both
 * APIs aggregate the same way.
 * @module
 */
import { MAX_JSON_DEPTH, nestsAtMost } from "@outpost/platform/json_limits";
import { z } from "zod";
import { DESIRED_OUTCOMES, Labels, SEVERITIES, text } from "@outpost/protocol";
import { DEVICE_ID_PATTERN } from "@outpost/protocol";
import { BucketParam } from "@outpost/platform/buckets";
import { MAX_SELECTOR_LENGTH, parseSelector } from "../fleet/selector.ts";
import { DEVICE_STATES } from "../store/device_query.ts";
import {
  COMMAND_STATUSES,
  JOB_STATES,
  REQUEST_STATUSES,
  ROLLOUT_STATES,
  WAVE_STATES,
} from "../store/schema.ts";

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

/**
 * A label selector in Kubernetes syntax (`site=berlin,role!=gateway,tier in (a,b),!gpu`),
 * parsed: a malformed one is a 422 whose detail gives the position of the problem.
 */
export const SelectorParam = z.string().max(MAX_SELECTOR_LENGTH).transform((text, ctx) => {
  const parsed = parseSelector(text);
  if (parsed.ok) return parsed.selector;
  ctx.addIssue({
    code: "custom",
    message: parsed.error.message,
    params: { rule: "selector", limit: parsed.error.position },
  });
  return z.NEVER;
}).describe(
  "Kubernetes label selector, e.g. `site=berlin,role!=gateway,tier in (a,b),!decommissioned`; empty: every device",
);

/** The cursor of a page, as a previous page handed it out. */
const CursorParam = z.string().min(1).max(512);

/** `GET /api/v1/devices` query. */
export const DevicesQueryParams = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe("devices per page"),
  cursor: CursorParam.optional().describe("`nextCursor` of the previous page"),
  state: z.enum(DEVICE_STATES).optional().describe(
    "online, offline, or lagging (1,000 or more records not stored yet)",
  ),
  selector: SelectorParam.optional(),
  q: z.string().max(63).regex(/^[A-Za-z0-9_.-]*$/, "must be the start of a device id")
    .optional().describe("device id prefix (case-sensitive)"),
});

/** Device counts of a filtered set, by state. */
export const DeviceCountsOutput = z.object({
  total: z.number().int(),
  online: z.number().int(),
  offline: z.number().int(),
  lagging: z.number().int(),
});

/** `GET /api/v1/devices` response: one page by id, and counts of every match. */
export const DevicesPageOutput = z.object({
  items: z.array(DeviceOutput),
  nextCursor: z.string().nullable().describe("null on the last page"),
  counts: DeviceCountsOutput.describe("every device the selector and q match (state ignored)"),
});

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
  desiredReports: z.array(z.object({
    version: z.number().int(),
    outcome: z.enum(DESIRED_OUTCOMES),
    reason: z.string().optional(),
    reportedAt: z.string(),
  })).describe("the device's newest answers to desired versions, newest first"),
});

/** `PUT /api/v1/devices/:id/labels` body and response. */
export const LabelsInput = z.object({ labels: Labels }).strict();

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

/** Labels in Kubernetes syntax (the same rules as a device's own, `@outpost/protocol`). */
const labels = Labels;

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

/** A page of rollouts or jobs. */
export const ListQueryParams = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: CursorParam.optional().describe("`nextCursor` of the previous page"),
});

/** One wave of a rollout as asked for. */
export const WaveInput = z.object({
  percent: z.number().gt(0).max(100).describe("cumulative share of the targets reached"),
  bakeSeconds: z.number().int().min(0).max(7 * 86_400).default(0)
    .describe("wait after the wave's online devices answered"),
}).strict();

/** `POST /api/v1/rollouts` body. */
export const RolloutInput = z.object({
  name: z.string().trim().min(1).max(200),
  selector: SelectorParam,
  desired: DesiredInput.describe(
    "JSON merge patch (RFC 7396) applied to each device's desired state",
  ),
  waves: z.array(WaveInput).min(1).max(20).default([{ percent: 100, bakeSeconds: 0 }])
    .superRefine((waves, ctx) => {
      for (let i = 1; i < waves.length; i++) {
        if (waves[i].percent <= waves[i - 1].percent) {
          ctx.addIssue({
            code: "custom",
            path: [i, "percent"],
            message: "wave percents must increase",
          });
        }
      }
      if (waves[waves.length - 1]?.percent !== 100) {
        ctx.addIssue({
          code: "custom",
          path: [waves.length - 1, "percent"],
          message: "the last wave must reach 100 percent",
        });
      }
    }),
  failureThresholdPercent: z.number().min(0).max(100).default(5)
    .describe("abort when failures exceed this share of the devices that answered"),
  applyTimeoutSeconds: z.number().int().min(10).max(7 * 86_400).default(900)
    .describe("an online device that does not answer within this counts as failed"),
}).strict();

/** Counts of a rollout's targets. */
export const RolloutCountsOutput = z.object({
  targeted: z.number().int(),
  pending: z.number().int().describe("not answered yet, device online"),
  applied: z.number().int(),
  failed: z.number().int(),
  offline: z.number().int().describe("not answered yet, device offline: it gets it on return"),
  cancelled: z.number().int().describe("withdrawn or never sent: the rollout was aborted"),
});

/** A rollout. */
export const RolloutOutput = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(["rollout", "rollback"]),
  selector: z.string(),
  desired: z.record(z.string(), z.unknown()),
  state: z.enum(ROLLOUT_STATES),
  counts: RolloutCountsOutput,
  waves: z.array(z.object({
    percent: z.number(),
    bakeSeconds: z.number().int(),
    size: z.number().int(),
    state: z.enum(WAVE_STATES),
    startedAt: z.string().nullable(),
    answeredAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    counts: RolloutCountsOutput,
  })),
  failureThresholdPercent: z.number(),
  applyTimeoutSeconds: z.number().int(),
  rollbackOf: z.string().nullable(),
  rolledBackBy: z.string().nullable(),
  reason: z.string().nullable().describe("why it was aborted"),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});

/** `GET /api/v1/rollouts` response. */
export const RolloutsList = z.object({
  items: z.array(RolloutOutput),
  nextCursor: z.string().nullable(),
});

/** `POST /api/v1/rollouts` (and `…/rollback`) response. */
export const FleetCreated = z.object({
  id: z.string(),
  targeted: z.number().int().describe("devices fixed as targets now"),
});

/** `POST /api/v1/jobs` body. */
export const JobInput = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  selector: SelectorParam,
  command: CommandInput,
  ratePerMinute: z.number().int().min(1).max(1_000_000).optional()
    .describe("commands released per minute; all at once when absent"),
}).strict();

/** Counts of a job's commands. */
export const JobCountsOutput = z.object({
  targeted: z.number().int(),
  queued: z.number().int().describe("not delivered yet (scheduled or waiting for the device)"),
  scheduled: z.number().int().describe("of queued: not released by the rate yet"),
  delivered: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
});

/** A job. */
export const JobOutput = z.object({
  id: z.string(),
  name: z.string(),
  selector: z.string(),
  command: z.object({ name: z.string(), args: z.record(z.string(), z.unknown()).optional() }),
  ratePerMinute: z.number().int().nullable(),
  state: z.enum(JOB_STATES),
  counts: JobCountsOutput,
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});

/** `GET /api/v1/jobs` response. */
export const JobsList = z.object({ items: z.array(JobOutput), nextCursor: z.string().nullable() });

/** `POST /api/v1/jobs/:id/cancel` response. */
export const JobCancelled = z.object({
  cancelled: z.number().int().describe("commands cancelled (not delivered yet)"),
});
