/**
 * The device's sync state with the cloud, as `GET /api/v1/sync` reports it.
 * @module
 */
import type { JSX } from "preact";
import type { z } from "zod";
import { Badge } from "@outpost/web/components/badge";
import { formatDateTime } from "@outpost/web/components/format";
import type { SyncStatusOutput } from "../../http/schemas.ts";
import type { SyncState } from "../../sync/state.ts";

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
    "The cloud refuses to enroll this device (see the error below); writes queue locally and the agent keeps asking.",
};

/** The state as a word in a badge. */
export function SyncBadge(props: { state: SyncState }): JSX.Element {
  return <Badge state={`sync-${props.state}`} text={STATE_TEXT[props.state]} />;
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
