/**
 * Progress of a rollout or a job: the counts as a list of figures (the words carry the meaning)
 * and a bar whose segments show the same shares (decoration only, hidden from screen readers).
 * @module
 */
import type { JSX } from "preact";
import { Badge } from "@outpost/web/components/badge";

/** One figure of a progress summary. */
export interface CountItem {
  /** Key for tests and styling (`applied`, `failed`, …). */
  key: string;
  label: string;
  value: number;
  /** Shown as a bar segment with this class (`bar-ok`, `bar-error`, …). */
  bar?: string;
  help?: string;
}

function n(value: number): string {
  return value.toLocaleString("en-US");
}

/** Figures and a bar of `total`. */
export function Progress(props: { total: number; items: CountItem[]; id?: string }): JSX.Element {
  const total = Math.max(1, props.total);
  // SVG geometry, not inline styles: the consoles' CSP allows stylesheet rules only.
  let x = 0;
  const segments = props.items.filter((item) => item.bar && item.value > 0).map((item) => {
    const width = (item.value / total) * 1000;
    const segment = { key: item.key, bar: item.bar!, x, width };
    x += width;
    return segment;
  });
  return (
    <div class="progress" id={props.id}>
      <svg
        class="progress-bar"
        viewBox="0 0 1000 10"
        preserveAspectRatio="none"
        aria-hidden="true"
        focusable="false"
      >
        {segments.map((segment) => (
          <rect
            key={segment.key}
            class={segment.bar}
            x={segment.x.toFixed(2)}
            y="0"
            width={segment.width.toFixed(2)}
            height="10"
          />
        ))}
      </svg>
      <dl class="counts">
        {props.items.map((item) => (
          <div key={item.key} data-count={item.key} title={item.help}>
            <dt>{item.label}</dt>
            <dd>{n(item.value)}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

/** Counts of a rollout (or one wave). */
export interface RolloutCounts {
  targeted: number;
  pending: number;
  applied: number;
  failed: number;
  offline: number;
  cancelled: number;
}

/** A rollout's counts as figures and a bar. */
export function RolloutCountsView(props: { counts: RolloutCounts; id?: string }): JSX.Element {
  const { counts } = props;
  return (
    <Progress
      id={props.id}
      total={counts.targeted}
      items={[
        { key: "targeted", label: "Targeted", value: counts.targeted },
        { key: "applied", label: "Applied", value: counts.applied, bar: "bar-ok" },
        { key: "failed", label: "Failed", value: counts.failed, bar: "bar-error" },
        {
          key: "pending",
          label: "Pending",
          value: counts.pending,
          bar: "bar-pending",
          help: "online, not answered yet (or its wave has not started)",
        },
        {
          key: "offline",
          label: "Offline",
          value: counts.offline,
          bar: "bar-offline",
          help: "offline: gets the change when it reconnects",
        },
        {
          key: "cancelled",
          label: "Cancelled",
          value: counts.cancelled,
          bar: "bar-cancelled",
          help: "withdrawn or never sent: the rollout was aborted",
        },
      ]}
    />
  );
}

/** Counts of a job. */
export interface JobCountsView {
  targeted: number;
  queued: number;
  scheduled: number;
  delivered: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** A job's counts as figures and a bar. */
export function JobCountsBar(props: { counts: JobCountsView; id?: string }): JSX.Element {
  const { counts } = props;
  return (
    <Progress
      id={props.id}
      total={counts.targeted}
      items={[
        { key: "targeted", label: "Targeted", value: counts.targeted },
        { key: "succeeded", label: "Succeeded", value: counts.succeeded, bar: "bar-ok" },
        { key: "failed", label: "Failed", value: counts.failed, bar: "bar-error" },
        {
          key: "delivered",
          label: "Delivered",
          value: counts.delivered,
          bar: "bar-pending",
          help: "sent to the device, no answer yet",
        },
        {
          key: "queued",
          label: "Queued",
          value: counts.queued,
          bar: "bar-offline",
          help: "not delivered yet: waiting for the job's rate or for the device to come online",
        },
        { key: "cancelled", label: "Cancelled", value: counts.cancelled, bar: "bar-cancelled" },
      ]}
    />
  );
}

const STATE_CLASS: Record<string, string> = {
  running: "sync-connecting",
  paused: "sync-unenrolled",
  succeeded: "sync-online",
  aborted: "severity-critical",
  failed: "severity-critical",
  cancelled: "sync-unenrolled",
  waiting: "sync-unenrolled",
  baking: "sync-connecting",
  completed: "sync-online",
  skipped: "sync-unenrolled",
};

/** A rollout, wave or job state as a badge. */
export function StateBadge(props: { state: string }): JSX.Element {
  return <Badge state={STATE_CLASS[props.state] ?? "sync-unenrolled"} text={props.state} />;
}
