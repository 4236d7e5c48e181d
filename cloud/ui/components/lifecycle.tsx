/**
 * A device's identity and lifecycle on its page: its status, the enrollment requests waiting
 * for a decision (approve, reject), and the operator's actions (revoke, reinstate,
 * decommission, reset its sequence position, delete keeping or purging its data). Plain forms:
 * they work without JavaScript and post to `/devices/:id/lifecycle` and
 * `/enrollment-requests/:rid/:decision`, which call the API's own use cases.
 * @module
 */
import type { JSX } from "preact";
import { Hidden } from "@outpost/web/components/form";
import { formatDateTime } from "@outpost/web/components/format";
import { Section } from "@outpost/web/components/layout";
import { CSRF_FIELD } from "@outpost/web/session";
import type { DeviceDetail, EnrollmentRequestView } from "../../store/store.ts";
import { StatusBadge } from "./device_table.tsx";

export { StatusBadge };

/** Actions the lifecycle form posts. */
export const LIFECYCLE_ACTIONS = [
  "revoke",
  "reinstate",
  "decommission",
  "reset-position",
  "delete",
] as const;
/** One of {@link LIFECYCLE_ACTIONS}. */
export type LifecycleAction = typeof LIFECYCLE_ACTIONS[number];

/** Props of {@link LifecycleSection}. */
export interface LifecycleSectionProps {
  device: DeviceDetail;
  requests: EnrollmentRequestView[];
  csrf: string;
  /** An action that failed (the broker did not answer, a conflict), shown at the top. */
  error?: string;
  /** What the last action did. */
  notice?: string;
}

/** The section. */
export function LifecycleSection(props: LifecycleSectionProps): JSX.Element {
  const { device, csrf } = props;
  // The fragment brings a refused action's page back to this section (and its error).
  const action = `/devices/${encodeURIComponent(device.id)}/lifecycle#lifecycle`;
  const active = device.status === "active";
  return (
    <Section id="lifecycle" title="Identity and lifecycle">
      {props.error && (
        <p class="form-error" role="alert" id="lifecycle-error">
          {props.error}
        </p>
      )}
      {props.notice && <p class="notice" role="status">{props.notice}</p>}
      <dl class="facts">
        <dt>Status</dt>
        <dd data-fact="status">
          <StatusBadge status={device.status} />
          {device.statusChangedAt && ` since ${formatDateTime(device.statusChangedAt)}`}
        </dd>
        <dt>Enrolled with</dt>
        <dd data-fact="enrolledWith">
          {device.enrolledWith ? `enrollment token ${device.enrolledWith}` : "the bootstrap token"}
        </dd>
      </dl>
      {props.requests.length > 0 && (
        <PendingRequests requests={props.requests} csrf={csrf} deviceId={device.id} />
      )}
      <div class="lifecycle-actions">
        {active
          ? (
            <>
              <ActionForm
                action={action}
                csrf={csrf}
                name="revoke"
                label="Revoke"
                danger
                help="Removes its broker credentials (its session ends now) and refuses it until reinstated. Data stays."
              />
              <ActionForm
                action={action}
                csrf={csrf}
                name="decommission"
                label="Decommission"
                danger
                help="Retires it for good: as revoke, listed as decommissioned with its data."
              />
            </>
          )
          : (
            <form method="post" action={action} class="lifecycle-form">
              <Hidden name={CSRF_FIELD} value={csrf} />
              <Hidden name="action" value="reinstate" />
              <label class="check">
                <input type="checkbox" name="resetSecret" value="true" />{" "}
                Forget its device secret (its next enrollment then needs an approval)
              </label>
              <button type="submit" class="button">Reinstate</button>
              <p class="hint">
                Makes it active again; it re-enrolls with its own device secret.
              </p>
            </form>
          )}
        <ActionForm
          action={action}
          csrf={csrf}
          name="reset-position"
          label="Reset sequence position"
          help={`Forgets what is stored above seq ${device.ackedSeq} (the device resends it) and clears a lag it claimed.`}
        />
        <form method="post" action={action} class="lifecycle-form">
          <Hidden name={CSRF_FIELD} value={csrf} />
          <Hidden name="action" value="delete" />
          <fieldset>
            <legend>Delete this device</legend>
            <label class="check">
              <input type="radio" name="data" value="keep" required /> Keep its readings and events
            </label>
            <label class="check">
              <input type="radio" name="data" value="purge" required /> Delete its data too
            </label>
          </fieldset>
          <button type="submit" class="button danger">Delete device</button>
        </form>
      </div>
    </Section>
  );
}

function ActionForm(
  props: {
    action: string;
    csrf: string;
    name: LifecycleAction;
    label: string;
    help: string;
    danger?: boolean;
  },
): JSX.Element {
  return (
    <form method="post" action={props.action} class="lifecycle-form">
      <Hidden name={CSRF_FIELD} value={props.csrf} />
      <Hidden name="action" value={props.name} />
      <button type="submit" class={props.danger ? "button danger" : "button"}>
        {props.label}
      </button>
      <p class="hint">{props.help}</p>
    </form>
  );
}

function PendingRequests(
  props: { requests: EnrollmentRequestView[]; csrf: string; deviceId: string },
): JSX.Element {
  return (
    <div class="requests" id="enrollment-requests">
      <p class="notice" role="status">
        {props.requests.length === 1
          ? "Someone asks to enroll as this device without its device secret."
          : `${props.requests.length} requests ask to enroll as this device without its device secret.`}
        {" "}
        Approve only the one that is the device (for example after its storage was replaced): it
        gets new credentials and the current ones are revoked.
      </p>
      <ul class="request-list">
        {props.requests.map((request) => (
          <li key={request.id} data-request={request.id}>
            <span>
              Request {request.id.slice(0, 8)} from {request.address ?? "an unknown address"}
              {request.version ? `, version ${request.version}` : ""}
              {request.arch ? `, ${request.arch}` : ""}; first {formatDateTime(request.createdAt)},
              {" "}
              {request.attempts} attempt{request.attempts === 1 ? "" : "s"}.
            </span>
            {(["approve", "reject"] as const).map((decision) => (
              <form
                key={decision}
                method="post"
                action={`/enrollment-requests/${encodeURIComponent(request.id)}/${decision}`}
                class="inline-form"
              >
                <Hidden name={CSRF_FIELD} value={props.csrf} />
                <Hidden name="device" value={props.deviceId} />
                <button
                  type="submit"
                  class={decision === "reject" ? "button danger" : "button"}
                >
                  {decision === "approve" ? "Approve" : "Reject"}
                </button>
              </form>
            ))}
          </li>
        ))}
      </ul>
    </div>
  );
}
