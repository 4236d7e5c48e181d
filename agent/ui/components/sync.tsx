/**
 * The device's sync state with the cloud, as `GET /api/v1/sync` reports it.
 * @module
 */
import type { JSX } from "preact";
import { formatDateTime } from "../../../web/components/format.ts";

/** `GET /api/v1/sync`. */
export interface SyncStatusView {
  state: "unenrolled" | "connecting" | "online" | "offline";
  pending: number;
  lastSeq: number;
  ackedSeq: number;
  lastAckAt: string | null;
  lastError: string | null;
}

const STATE_TEXT: Record<SyncStatusView["state"], string> = {
  online: "Online",
  connecting: "Connecting",
  offline: "Offline",
  unenrolled: "Not enrolled",
};

const STATE_HELP: Record<SyncStatusView["state"], string> = {
  online: "Connected to the cloud; records upload as they are written.",
  connecting: "Trying to reach the cloud; writes queue locally meanwhile.",
  offline: "No connection to the cloud; writes queue locally and upload on reconnect.",
  unenrolled: "No cloud configured; every local feature works and writes queue locally.",
};

/** The state as a word in a badge. */
export function SyncBadge(props: { state: SyncStatusView["state"] }): JSX.Element {
  return <span class={`badge sync-${props.state}`}>{STATE_TEXT[props.state]}</span>;
}

/** The sync state, outbox counters and last ack as a description list. */
export function SyncPanel(props: { sync: SyncStatusView }): JSX.Element {
  const { sync } = props;
  return (
    <div class="sync-panel">
      <p class="sync-state">
        <SyncBadge state={sync.state} /> <span class="help">{STATE_HELP[sync.state]}</span>
      </p>
      <dl class="stats">
        <div>
          <dt>Pending upload</dt>
          <dd data-stat="pending">{sync.pending.toLocaleString("en-US")}</dd>
        </div>
        <div>
          <dt>Last seq</dt>
          <dd data-stat="lastSeq">{sync.lastSeq}</dd>
        </div>
        <div>
          <dt>Acked seq</dt>
          <dd data-stat="ackedSeq">{sync.ackedSeq}</dd>
        </div>
        <div>
          <dt>Last ack</dt>
          <dd data-stat="lastAckAt">{sync.lastAckAt ? formatDateTime(sync.lastAckAt) : "never"}</dd>
        </div>
      </dl>
      {sync.lastError && <p class="sync-error">Last error: {sync.lastError}</p>}
    </div>
  );
}
