/**
 * The plausible window of a client-supplied device time, around the agent's clock
 * (`OUTPOST_TS_MAX_AGE` before, `OUTPOST_TS_MAX_AHEAD` after). It narrows the protocol's fixed
 * bounds (`DeviceTime`, 1970 to 2100), which the schema has already checked.
 * @module
 */
import type { ErrorDetail } from "@outpost/platform/http_error";

/** The window; undefined sides are unbounded. */
export interface TimeWindow {
  maxAgeMs?: number;
  maxAheadMs?: number;
}

function words(ms: number): string {
  const units: [number, string][] = [[86_400_000, "day"], [3_600_000, "hour"], [60_000, "minute"]];
  for (const [size, unit] of units) {
    if (ms % size === 0) return `${ms / size} ${unit}${ms / size === 1 ? "" : "s"}`;
  }
  return `${ms / 1000} seconds`;
}

/**
 * The detail for a time outside the window, or undefined. `field` names it in the 422.
 */
export function timeWindowProblem(
  field: string,
  ts: string,
  window: TimeWindow,
  now: number,
): ErrorDetail | undefined {
  const ms = Date.parse(ts);
  const clock = new Date(now).toISOString();
  if (window.maxAgeMs !== undefined && ms < now - window.maxAgeMs) {
    return {
      field,
      rule: "time_window",
      limit: { maxAge: words(window.maxAgeMs), clock },
      message: `must be at most ${
        words(window.maxAgeMs)
      } before the device clock (${clock}; OUTPOST_TS_MAX_AGE) (got ${ts})`,
    };
  }
  if (window.maxAheadMs !== undefined && ms > now + window.maxAheadMs) {
    return {
      field,
      rule: "time_window",
      limit: { maxAhead: words(window.maxAheadMs), clock },
      message: `must be at most ${
        words(window.maxAheadMs)
      } after the device clock (${clock}; OUTPOST_TS_MAX_AHEAD) (got ${ts})`,
    };
  }
  return undefined;
}
