/**
 * Time buckets of the readings queries (`?bucket=5m`), one definition for the agent's and the
 * cloud's APIs and consoles.
 * @module
 */
import { z } from "zod";

/** A bucket width such as `30s`, `5m`, `1h`, `1d`. */
export const BucketParam = z.string().regex(
  /^[1-9]\d{0,5}(s|m|h|d)$/,
  "must look like 30s, 5m, 1h or 1d",
);

/** Converts a {@link BucketParam} to milliseconds. */
export function bucketMs(bucket: string): number {
  const unit = bucket.slice(-1);
  const count = Number(bucket.slice(0, -1));
  return count * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as "s"];
}
