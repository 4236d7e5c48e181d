/**
 * The device's sync state with the cloud, as `GET /api/v1/sync` reports it, in an operator's
 * words: "Cloud unreachable since 12:03 UTC; retrying at 12:04:10 UTC." rather than a socket
 * error. The sync layer's problem codes are mapped here; its raw error text, the seq numbers and
 * the code stay available in a details section (and in the API).
 * @module
 */
import type { JSX } from "preact";
import type { z } from "zod";
import { Badge } from "@outpost/web/components/badge";
import { formatMoment } from "@outpost/web/components/format";
import type { SyncStatusOutput } from "../../http/schemas.ts";
import type { SyncProblem, SyncState } from "../../sync/state.ts";

/** `GET /api/v1/sync`, as the route's schema types it. */
export type SyncStatusView = z.infer<typeof SyncStatusOutput>;

const STATE_TEXT: Record<SyncState, string> = {
  online: "Online",
  connecting: "Connecting",
  offline: "Offline",
  unenrolled: "Not enrolled",
  pending_approval: "Awaiting approval",
  refused: "Refused by the cloud",
};

const STATE_HELP: Record<SyncState, string> = {
  online: "Connected to the cloud; records upload as they are written.",
  connecting: "Trying to reach the cloud; writes queue locally meanwhile.",
  offline: "No connection to the cloud; writes queue locally and upload on reconnect.",
  unenrolled: "No cloud configured; every local feature works and writes queue locally.",
  pending_approval:
    "The cloud holds this device's enrollment until an operator approves it; writes queue locally meanwhile.",
  refused:
    "The cloud refuses to enroll this device (the sync details say why); writes queue locally and the agent keeps asking.",
};

/** Each problem as an operator reads it, and whether the agent keeps retrying by itself. */
const PROBLEM_TEXT: Record<SyncProblem, { text: string; retries: boolean }> = {
  cloud_unreachable: { text: "Cloud unreachable", retries: true },
  cloud_error: { text: "The cloud answers with errors", retries: true },
  enrollment_refused: {
    text: "The cloud refuses to enroll this device (revoked, decommissioned or a wrong token: " +
      "the details say which)",
    retries: true,
  },
  enrollment_pending: {
    text: "The cloud holds this device's enrollment for an operator's approval",
    retries: true,
  },
  broker_unreachable: { text: "Cloud unreachable", retries: true },
  credentials_refused: {
    text: "The cloud no longer accepts this device's credentials; enrolling again",
    retries: true,
  },
  broker_refused: { text: "The cloud's message broker refuses this device", retries: true },
  tls: {
    text: "The cloud's certificate is not trusted (check OUTPOST_MQTT_CA)",
    retries: true,
  },
  records_refused: {
    text: "The cloud refused some of this device's records (the details name them)",
    retries: false,
  },
  configuration: { text: "Sync is misconfigured on this device", retries: false },
};

/**
 * The headline of a sync status: what is wrong since when and what happens next, or undefined
 * when nothing is wrong.
 */
export function problemSentence(sync: SyncStatusView, now: number): string | undefined {
  if (sync.state === "unenrolled" || !sync.problem) return undefined;
  const { text, retries } = PROBLEM_TEXT[sync.problem];
  // Online, only what the cloud refused is news; everything else was before the connection.
  if (sync.state === "online") {
    return sync.problem === "records_refused"
      ? `${text}; the rest uploads as it is written.`
      : undefined;
  }
  const since = sync.since ? ` since ${formatMoment(sync.since, now)}` : "";
  const next = sync.nextAttemptAt && Date.parse(sync.nextAttemptAt) > now + 1000
    ? `retrying at ${formatMoment(sync.nextAttemptAt, now)}`
    : retries
    ? "retrying"
    : "fix the setting named in the details and restart the agent";
  return `${text}${since}; ${next}. Writes queue on this device meanwhile.`;
}

/** The state as a word in a badge. */
export function SyncBadge(props: { state: SyncState }): JSX.Element {
  return <Badge state={`sync-${props.state}`} text={STATE_TEXT[props.state]} />;
}

/** The sync state, what waits to upload, and the details behind them. */
export function SyncPanel(props: { sync: SyncStatusView; now: number }): JSX.Element {
  const { sync, now } = props;
  const problem = problemSentence(sync, now);
  const help = sync.state === "online" && sync.since
    ? `Connected to the cloud since ${
      formatMoment(sync.since, now)
    }; records upload as they are written.`
    : STATE_HELP[sync.state];
  return (
    <div class="sync-panel">
      <p class="sync-state">
        <SyncBadge state={sync.state} /> {problem
          ? <span class="sync-problem" data-sync-problem={sync.problem ?? ""}>{problem}</span>
          : <span class="help">{help}</span>}
      </p>
      <dl class="stats">
        <div>
          <dt>Waiting to upload</dt>
          <dd data-stat="pending">{sync.pending.toLocaleString("en-US")}</dd>
        </div>
        <div>
          <dt>Last upload confirmed</dt>
          <dd data-stat="lastAckAt">
            {sync.lastAckAt ? formatMoment(sync.lastAckAt, now) : "never"}
          </dd>
        </div>
      </dl>
      <details class="tech-details">
        <summary>Sync details</summary>
        <dl class="facts">
          <dt>Last seq written</dt>
          <dd data-stat="lastSeq">{sync.lastSeq}</dd>
          <dt>Acked by the cloud up to seq</dt>
          <dd data-stat="ackedSeq">{sync.ackedSeq}</dd>
          <dt>Problem code</dt>
          <dd data-stat="problem">{sync.problem ?? "none"}</dd>
          <dt>Last error</dt>
          <dd data-stat="lastError">{sync.lastError ? <code>{sync.lastError}</code> : "none"}</dd>
        </dl>
      </details>
    </div>
  );
}
