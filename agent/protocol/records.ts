/**
 * The records an agent sends up, as stored in its outbox and carried in batches.
 * A record on the wire is `{"seq":n, ...payload}`; the payload is what the outbox stores.
 * @module
 */
import { z } from "zod";
import { DeviceTime, EventMessage, Name, ReadingValue, Unit } from "./fields.ts";

/** Severity of an event. */
export const SEVERITIES = ["info", "warning", "critical"] as const;

/** Record types, in the order of {@link OutboxPayload}. */
export const RECORD_TYPES = ["reading", "event", "reported", "command_result"] as const;

/**
 * A sensor reading; `ts` is device time (ISO-8601). Field rules in `fields.ts`, the same the
 * agent's API applies.
 */
export const ReadingRecord = z.object({
  type: z.literal("reading"),
  sensor: Name,
  value: ReadingValue,
  unit: Unit,
  ts: DeviceTime,
});

/** An event written on the device; `ts` is when it happened (device time). */
export const EventRecord = z.object({
  type: z.literal("event"),
  id: z.string().min(1).max(64),
  kind: Name,
  severity: z.enum(SEVERITIES),
  message: EventMessage,
  data: z.unknown().optional(),
  ts: DeviceTime,
});

/** How applying one desired version ended. */
export const DESIRED_OUTCOMES = ["applied", "failed"] as const;
/** One of {@link DESIRED_OUTCOMES}. */
export type DesiredOutcome = typeof DESIRED_OUTCOMES[number];

/** The longest reason a failed apply carries. */
export const MAX_OUTCOME_REASON = 1000;

/**
 * The device's reported state (e.g. which desired version it applied).
 *
 * `version`, `outcome` and `reason` answer one desired version: `applied`, or `failed` with the
 * reason (the device then stays on its previous settings, so `appliedVersion` is the previous
 * version). They are optional: an agent from before they existed reports only `appliedVersion`,
 * which the cloud reads as "this version was applied".
 */
export const ReportedRecord = z.object({
  type: z.literal("reported"),
  appliedVersion: z.number().int().nonnegative(),
  reported: z.record(z.string(), z.unknown()),
  ts: z.string().max(40),
  version: z.number().int().min(1).optional(),
  outcome: z.enum(DESIRED_OUTCOMES).optional(),
  reason: z.string().max(MAX_OUTCOME_REASON).optional(),
});

/** The outcome of a command. */
export const CommandResultRecord = z.object({
  type: z.literal("command_result"),
  commandId: z.string().min(1).max(64),
  status: z.enum(["succeeded", "failed"]),
  result: z.unknown().optional(),
  error: z.string().max(4000).optional(),
  ts: z.string().max(40),
});

/** Any payload an outbox row holds. */
export const OutboxPayload = z.discriminatedUnion("type", [
  ReadingRecord,
  EventRecord,
  ReportedRecord,
  CommandResultRecord,
]);

/** Type of {@link OutboxPayload}. */
export type OutboxPayload = z.infer<typeof OutboxPayload>;
/** Type of {@link ReadingRecord}. */
export type ReadingRecord = z.infer<typeof ReadingRecord>;
/** Type of {@link EventRecord}. */
export type EventRecord = z.infer<typeof EventRecord>;
/** Type of {@link ReportedRecord}. */
export type ReportedRecord = z.infer<typeof ReportedRecord>;
/** Type of {@link CommandResultRecord}. */
export type CommandResultRecord = z.infer<typeof CommandResultRecord>;
