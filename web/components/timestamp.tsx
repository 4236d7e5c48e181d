/**
 * A point in time as a `<time>` element: machine-readable `datetime`, UTC text for people.
 * @module
 */
import type { JSX } from "preact";
import { formatDateTime } from "./format.ts";

/** Props of {@link Timestamp}. */
export interface TimestampProps {
  /** ISO-8601. */
  value: string;
  /** Marks a row just added (styled with a "new" tag). */
  highlight?: boolean;
}

/** `2026-11-26 10:00:05 UTC` in a `<time>`. */
export function Timestamp(props: TimestampProps): JSX.Element {
  return (
    <time datetime={props.value} class={props.highlight ? "new" : undefined}>
      {formatDateTime(props.value)}
    </time>
  );
}
