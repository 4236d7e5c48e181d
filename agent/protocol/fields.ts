/**
 * The field rules of protocol v1, shared by the agent's HTTP API (what a client may write) and
 * the records on the wire (what the cloud stores): one definition, so a value the agent accepts
 * is a value the cloud accepts.
 *
 * - Names (sensor, event kind): 1–64 of `A–Z a–z 0–9 _ . : / -`.
 * - Text (unit, event message): no control characters (U+0000–U+001F, U+007F–U+009F; a message
 *   may hold tab, line feed and carriage return) and no lone UTF-16 surrogates. Rejected, never
 *   truncated: SQLite drivers cut a string at its first NUL.
 * - Values: finite doubles within ±(2^53 − 1), where every integer is exact and sums over any
 *   number of readings stay finite (min/max/avg, charts).
 * - Device times: ISO-8601 date-times with a zone (`Z` or `±hh:mm`), from 1970-01-01T00:00:00Z
 *   (inclusive) to 2100-01-01T00:00:00Z (exclusive). The agent's API may narrow this to a window
 *   around its clock (`OUTPOST_TS_MAX_AGE`, `OUTPOST_TS_MAX_AHEAD`); the protocol bound is fixed,
 *   so no clock difference between device and cloud makes a stored record unacceptable later.
 *
 * Every refinement carries `params.rule` (and `params.limit` where there is one), which the
 * HTTP layer reports in its 422 details.
 * @module
 */
import { z } from "zod";

/** The largest magnitude of a reading value: 2^53 − 1. */
export const MAX_ABS_VALUE = Number.MAX_SAFE_INTEGER;
/** The earliest device time accepted, ms since the epoch (1970-01-01T00:00:00Z). */
export const MIN_DEVICE_TIME_MS = 0;
/** The first device time no longer accepted, ms since the epoch (2100-01-01T00:00:00Z). */
export const MAX_DEVICE_TIME_MS = Date.UTC(2100, 0, 1);
/** The longest name (sensor, event kind). */
export const MAX_NAME_LENGTH = 64;
/** The longest unit. */
export const MAX_UNIT_LENGTH = 16;
/** The longest event message. */
export const MAX_MESSAGE_LENGTH = 4000;
/** The longest ISO-8601 time string. */
export const MAX_TIME_LENGTH = 40;

/** A name: 1–64 letters, digits or `_ . : / -`. */
export const NAME_PATTERN = /^[\w.:/-]{1,64}$/;
const NAME_RULE = "must be 1-64 letters, digits or _ . : / -";

/** C0 and C1 control characters and DEL (matching them is the point). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The same, but tab, line feed and carriage return are allowed. */
// deno-lint-ignore no-control-regex
const CONTROL_EXCEPT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * Why `text` is not acceptable as text, or undefined: a control character (named by its code
 * point and position) or a lone surrogate.
 */
export function textProblem(text: string, allowLineBreaks = false): string | undefined {
  const match = (allowLineBreaks ? CONTROL_EXCEPT_LINES : CONTROL).exec(text);
  if (match) {
    const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    return `must not contain control characters (U+${code} at position ${match.index})`;
  }
  if (!text.isWellFormed()) return "must be well-formed Unicode (it holds a lone surrogate)";
  return undefined;
}

/** A string without control characters, at most `max` long. */
export function text(options: { max: number; min?: number; allowLineBreaks?: boolean }) {
  let schema = z.string().max(options.max);
  if (options.min !== undefined) schema = schema.min(options.min);
  return schema.superRefine((value, ctx) => {
    const problem = textProblem(value, options.allowLineBreaks);
    if (problem) {
      ctx.addIssue({ code: "custom", message: problem, params: { rule: "control_character" } });
    }
  });
}

/** A sensor or event-kind name. */
export const Name = z.string().regex(NAME_PATTERN, NAME_RULE);

/** A reading's unit: up to 16 characters, no control characters. */
export const Unit = text({ max: MAX_UNIT_LENGTH });

/** An event's message: 1–4,000 characters; tab and line breaks allowed. */
export const EventMessage = text({ max: MAX_MESSAGE_LENGTH, min: 1, allowLineBreaks: true });

/** A reading's value: a finite double within ±{@link MAX_ABS_VALUE}. */
export const ReadingValue = z.number().min(-MAX_ABS_VALUE).max(MAX_ABS_VALUE);

/** True when `ms` lies inside the protocol's device-time bounds. */
export function inDeviceTimeBounds(ms: number): boolean {
  return ms >= MIN_DEVICE_TIME_MS && ms < MAX_DEVICE_TIME_MS;
}

/** The bounds as words, for messages. */
export const DEVICE_TIME_BOUNDS = "from 1970-01-01T00:00:00Z to before 2100-01-01T00:00:00Z";

/**
 * A device time: an ISO-8601 date-time with a zone, inside the protocol's bounds. zod's own
 * `z.iso.datetime` checks the calendar (no 2026-02-30) as well as the form.
 */
export const DeviceTime = z.iso.datetime({
  offset: true,
  error: "must be an ISO-8601 date-time with a zone, e.g. 2026-11-26T10:00:00Z",
}).max(MAX_TIME_LENGTH).superRefine((value, ctx) => {
  const ms = Date.parse(value);
  if (!inDeviceTimeBounds(ms)) {
    ctx.addIssue({
      code: "custom",
      message: `must be ${DEVICE_TIME_BOUNDS}`,
      params: { rule: "time_window", limit: DEVICE_TIME_BOUNDS },
    });
  }
});

/** The shape of an ISO-8601 date-time with a zone, for hand-written fast checks. */
const ISO_DATE_TIME =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/**
 * A cheap, conservative check of a device time: true only for strings {@link DeviceTime}
 * accepts. (It may say false for some the schema accepts; callers then ask the schema.)
 */
export function isPlainDeviceTime(value: unknown): value is string {
  if (typeof value !== "string" || value.length > MAX_TIME_LENGTH || !ISO_DATE_TIME.test(value)) {
    return false;
  }
  const day = Number(value.slice(8, 10));
  if (day > 28) {
    // The calendar check the schema makes: no 2026-02-30.
    const year = Number(value.slice(0, 4));
    const month = Number(value.slice(5, 7));
    if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  }
  return inDeviceTimeBounds(Date.parse(value));
}

/** True for a value {@link ReadingValue} accepts. */
export function isReadingValue(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && Math.abs(value) <= MAX_ABS_VALUE;
}

/** True for a unit {@link Unit} accepts. */
export function isUnit(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_UNIT_LENGTH &&
    textProblem(value) === undefined;
}
