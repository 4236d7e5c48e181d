/**
 * `/rollouts` (newest first), `/rollouts/new` (the form, with a preview of how many devices the
 * selector matches) and `/rollouts/:id` (state, counts, waves, and the pause/resume/abort/
 * rollback buttons; the `RolloutProgress` island keeps it current). Every page works without
 * JavaScript: forms post and redirect.
 * @module
 */
import type { JSX } from "preact";
import type { RolloutBody } from "../../http/rollouts.ts";
import { ErrorSummary, Hidden, TextArea, TextInput } from "@outpost/web/components/form";
import { PageHeader, Section } from "@outpost/web/components/layout";
import { DataTable } from "@outpost/web/components/table";
import { Timestamp } from "@outpost/web/components/timestamp";
import { island } from "@outpost/web/island_runtime";
import { CSRF_FIELD } from "@outpost/web/session";
import { StateBadge } from "../components/progress.tsx";
import { ROLLOUT_LABELS, type RolloutFormValues } from "../fleet_forms.ts";
import { RolloutProgress, type RolloutProgressProps } from "../islands/rollout_progress.tsx";
import { SelectorPreview } from "../islands/selector_preview.tsx";
import { type FleetContext, FleetPage } from "../page.tsx";

/** `/rollouts/<id>` with the id encoded. */
export function rolloutPath(id: string): string {
  return `/rollouts/${encodeURIComponent(id)}`;
}

/** Props of {@link RolloutsPage}. */
export interface RolloutsPageProps {
  context: FleetContext;
  rollouts: RolloutBody[];
  /** The next page's link, when there is one. */
  next?: string;
  /** This is not the first page. */
  paged: boolean;
}

/** `/rollouts`: every rollout, newest first. */
export function RolloutsPage(props: RolloutsPageProps): JSX.Element {
  return (
    <FleetPage context={props.context} title="Rollouts">
      <PageHeader
        title="Rollouts"
        lead="Desired-state changes for many devices at once, in waves: each wave starts when the devices of the one before that are online have applied the change and its bake time has passed."
      />
      <p>
        <a href="/rollouts/new" class="button">New rollout</a>
      </p>
      <DataTable
        id="rollouts-table"
        caption="Rollouts, newest first"
        hideCaption
        rows={props.rollouts}
        rowKey={(rollout) => rollout.id}
        empty="No rollouts yet."
        columns={[
          {
            label: "Rollout",
            cell: (rollout) => (
              <a href={rolloutPath(rollout.id)} class="rollout-link">{rollout.name}</a>
            ),
          },
          {
            label: "State",
            cell: (rollout) => (
              <span data-rollout-state={rollout.id}>
                <StateBadge state={rollout.state} />
              </span>
            ),
          },
          { label: "Selector", cell: (rollout) => <code>{rollout.selector || "(all)"}</code> },
          {
            label: "Applied / targeted",
            numeric: true,
            cell: (rollout) =>
              `${rollout.counts.applied.toLocaleString("en-US")} / ${
                rollout.counts.targeted.toLocaleString("en-US")
              }`,
          },
          { label: "Failed", numeric: true, cell: (rollout) => rollout.counts.failed },
          { label: "Offline", numeric: true, cell: (rollout) => rollout.counts.offline },
          { label: "Created", cell: (rollout) => <Timestamp value={rollout.createdAt} /> },
        ]}
      />
      {(props.paged || props.next) && (
        <nav class="pager" aria-label="Pages">
          {props.paged && <a href="/rollouts">Newest</a>}
          {props.next && <a href={props.next} rel="next">Older</a>}
        </nav>
      )}
    </FleetPage>
  );
}

/** Props of {@link NewRolloutPage}. */
export interface NewRolloutPageProps {
  context: FleetContext;
  values: RolloutFormValues;
  errors?: Record<string, string>;
  /** Devices the selector matches (after "Preview"). */
  preview?: { total: number; online: number };
}

/** `/rollouts/new`: the form. */
export function NewRolloutPage(props: NewRolloutPageProps): JSX.Element {
  const { values } = props;
  const errors = props.errors ?? {};
  const csrf = props.context.session?.csrfToken ?? "";
  return (
    <FleetPage context={props.context} title="New rollout">
      <p class="breadcrumb">
        <a href="/rollouts">All rollouts</a>
      </p>
      <PageHeader
        title="New rollout"
        lead="The devices the selector matches now are the targets; each gets the patch merged into its desired state as a new version."
      />
      <ErrorSummary errors={errors} title="The rollout was not started" />
      <form method="post" action="/rollouts" class="fleet-form">
        <Hidden name={CSRF_FIELD} value={csrf} />
        <TextInput
          name="name"
          label={ROLLOUT_LABELS.name}
          required
          value={values.name}
          error={errors.name}
          maxLength={200}
        />
        {island("SelectorPreview", SelectorPreview, {
          value: values.selector,
          label: ROLLOUT_LABELS.selector,
          hint:
            "Kubernetes syntax, e.g. site=berlin,role!=gateway,tier in (a,b). Empty: every device.",
          csrfToken: csrf,
          ...(errors.selector ? { error: errors.selector } : {}),
          ...(props.preview ? { counts: props.preview } : {}),
        })}
        <TextArea
          name="desired"
          label={ROLLOUT_LABELS.desired}
          required
          rows={6}
          value={values.desired}
          error={errors.desired}
          hint="A JSON merge patch (RFC 7396): keys set here are set, null removes a key, other keys stay. The agent understands logLevel and retentionDays."
        />
        <TextInput
          name="waves"
          label={ROLLOUT_LABELS.waves}
          required
          value={values.waves}
          error={errors.waves}
          hint="Cumulative percent of the targets, with an optional bake time in seconds: 10:300, 50:300, 100"
        />
        <TextInput
          name="failureThresholdPercent"
          label={ROLLOUT_LABELS.failureThresholdPercent}
          required
          value={values.failureThresholdPercent}
          error={errors.failureThresholdPercent}
          hint="The rollout aborts itself when more than this share of the devices that answered failed."
        />
        <TextInput
          name="applyTimeoutSeconds"
          label={ROLLOUT_LABELS.applyTimeoutSeconds}
          required
          value={values.applyTimeoutSeconds}
          error={errors.applyTimeoutSeconds}
          hint="An online device that does not answer within this counts as failed."
        />
        <div class="form-actions">
          <button type="submit" name="action" value="preview" class="button button-secondary">
            Preview
          </button>
          <button type="submit" name="action" value="create" class="button">Start rollout</button>
        </div>
      </form>
    </FleetPage>
  );
}

/** Props of {@link RolloutPage}. */
export interface RolloutPageProps {
  context: FleetContext;
  progress: RolloutProgressProps;
  /** What the last action did (after its redirect), or why it was refused. */
  notice?: string;
  refused?: string;
}

const ACTIONS = [
  { action: "pause", label: "Pause", when: ["running"] },
  { action: "resume", label: "Resume", when: ["paused"] },
  { action: "abort", label: "Abort", when: ["running", "paused"] },
  { action: "rollback", label: "Roll back", when: ["running", "paused", "succeeded", "aborted"] },
] as const;

/** `/rollouts/:id`. */
export function RolloutPage(props: RolloutPageProps): JSX.Element {
  const { rollout } = props.progress;
  const csrf = props.context.session?.csrfToken ?? "";
  const actions = ACTIONS.filter((a) =>
    (a.when as readonly string[]).includes(rollout.state) &&
    !(a.action === "rollback" && rollout.rolledBackBy)
  );
  return (
    <FleetPage context={props.context} title={rollout.name}>
      <p class="breadcrumb">
        <a href="/rollouts">All rollouts</a>
      </p>
      <PageHeader
        title={rollout.name}
        lead={
          <>
            {rollout.kind === "rollback" && rollout.rollbackOf && (
              <>
                Rolls back <a href={rolloutPath(rollout.rollbackOf)}>another rollout</a>.{" "}
              </>
            )}
            Targets: <code>{rollout.selector || "(every device)"}</code>, fixed when it was created.
          </>
        }
      />
      {props.notice && <p class="notice" role="status">{props.notice}</p>}
      {props.refused && <p class="error-summary" role="alert">{props.refused}</p>}
      {rollout.rolledBackBy && (
        <p class="notice">
          Rolled back by <a href={rolloutPath(rollout.rolledBackBy)}>its rollback</a>.
        </p>
      )}
      <Section id="progress" title="Progress">
        {island("RolloutProgress", RolloutProgress, props.progress)}
      </Section>
      {actions.length > 0 && (
        <Section id="actions" title="Actions">
          <div class="command-forms">
            {actions.map((a) => (
              <form
                method="post"
                action={`${rolloutPath(rollout.id)}/${a.action}`}
                class="command-form"
              >
                <Hidden name={CSRF_FIELD} value={csrf} />
                <button type="submit" class="button">{a.label}</button>
              </form>
            ))}
          </div>
          <p class="hint">
            Abort skips the waves not started and gives devices that have not answered their
            previous values back. Roll back restores, as a new version, the previous values of the
            keys this rollout changed, on the devices it changed (keys changed since are left).
          </p>
        </Section>
      )}
      <Section id="settings" title="Settings">
        <dl class="facts">
          <dt>Desired state patch</dt>
          <dd>
            <pre><code>{JSON.stringify(rollout.desired, null, 2)}</code></pre>
          </dd>
          <dt>Failure threshold</dt>
          <dd>{rollout.failureThresholdPercent}% of the devices that answered</dd>
          <dt>Apply timeout</dt>
          <dd>{rollout.applyTimeoutSeconds} s</dd>
          <dt>Created</dt>
          <dd>
            <Timestamp value={rollout.createdAt} />
          </dd>
        </dl>
      </Section>
    </FleetPage>
  );
}

/** Shown (404) for an unknown rollout. */
export function RolloutNotFoundPage(props: { context: FleetContext; id: string }): JSX.Element {
  return (
    <FleetPage context={props.context} title="Rollout not found">
      <PageHeader
        title="Rollout not found"
        lead={
          <>
            No rollout with the id <code>{props.id}</code>.
          </>
        }
      />
      <p>
        <a href="/rollouts">All rollouts</a>
      </p>
    </FleetPage>
  );
}
