/**
 * `/jobs` (newest first), `/jobs/new` (a command for every device a selector matches, with a
 * preview of how many) and `/jobs/:id` (state and counts, the `JobProgress` island, cancel).
 * @module
 */
import type { JSX } from "preact";
import type { JobView } from "../../fleet/jobs.ts";
import { ErrorSummary, Hidden, Select, TextInput } from "@outpost/web/components/form";
import { PageHeader, Section } from "@outpost/web/components/layout";
import { DataTable } from "@outpost/web/components/table";
import { Timestamp } from "@outpost/web/components/timestamp";
import { island } from "@outpost/web/island_runtime";
import { CSRF_FIELD } from "@outpost/web/session";
import { StateBadge } from "../components/progress.tsx";
import { COMMAND_CHOICES, LOG_LEVEL_CHOICES } from "../device_forms.ts";
import { JOB_LABELS, type JobFormValues } from "../fleet_forms.ts";
import { JobProgress, type JobProgressProps } from "../islands/job_progress.tsx";
import { SelectorPreview } from "../islands/selector_preview.tsx";
import { type FleetContext, FleetPage } from "../page.tsx";

/** `/jobs/<id>` with the id encoded. */
export function jobPath(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}

/** Props of {@link JobsPage}. */
export interface JobsPageProps {
  context: FleetContext;
  jobs: JobView[];
  next?: string;
  paged: boolean;
}

/** `/jobs`: every job, newest first. */
export function JobsPage(props: JobsPageProps): JSX.Element {
  return (
    <FleetPage context={props.context} title="Jobs">
      <PageHeader
        title="Jobs"
        lead="One command for many devices, released at a rate; offline devices get it when they reconnect."
      />
      <p>
        <a href="/jobs/new" class="button">New job</a>
      </p>
      <DataTable
        id="jobs-table"
        caption="Jobs, newest first"
        hideCaption
        rows={props.jobs}
        rowKey={(job) => job.id}
        empty="No jobs yet."
        columns={[
          {
            label: "Job",
            cell: (job) => <a href={jobPath(job.id)} class="job-link">{job.name}</a>,
          },
          {
            label: "State",
            cell: (job) => (
              <span data-job-state={job.id}>
                <StateBadge state={job.state} />
              </span>
            ),
          },
          { label: "Command", cell: (job) => <code>{job.command.name}</code> },
          {
            label: "Succeeded / targeted",
            numeric: true,
            cell: (job) => `${job.counts.succeeded} / ${job.counts.targeted}`,
          },
          { label: "Failed", numeric: true, cell: (job) => job.counts.failed },
          { label: "Queued", numeric: true, cell: (job) => job.counts.queued },
          { label: "Created", cell: (job) => <Timestamp value={job.createdAt} /> },
        ]}
      />
      {(props.paged || props.next) && (
        <nav class="pager" aria-label="Pages">
          {props.paged && <a href="/jobs">Newest</a>}
          {props.next && <a href={props.next} rel="next">Older</a>}
        </nav>
      )}
    </FleetPage>
  );
}

/** Props of {@link NewJobPage}. */
export interface NewJobPageProps {
  context: FleetContext;
  values: JobFormValues;
  errors?: Record<string, string>;
  preview?: { total: number; online: number };
}

/** `/jobs/new`: the form. */
export function NewJobPage(props: NewJobPageProps): JSX.Element {
  const { values } = props;
  const errors = props.errors ?? {};
  const csrf = props.context.session?.csrfToken ?? "";
  return (
    <FleetPage context={props.context} title="New job">
      <p class="breadcrumb">
        <a href="/jobs">All jobs</a>
      </p>
      <PageHeader
        title="New job"
        lead="The devices the selector matches now each get the command once."
      />
      <ErrorSummary errors={errors} title="The job was not started" />
      <form method="post" action="/jobs" class="fleet-form">
        <Hidden name={CSRF_FIELD} value={csrf} />
        <TextInput
          name="name"
          label={JOB_LABELS.name}
          value={values.name}
          error={errors.name}
          maxLength={200}
          hint="Default: the command and the selector."
        />
        {island("SelectorPreview", SelectorPreview, {
          value: values.selector,
          label: JOB_LABELS.selector,
          hint: "Kubernetes syntax, e.g. site=berlin,role=gateway. Empty: every device.",
          csrfToken: csrf,
          ...(errors.selector ? { error: errors.selector } : {}),
          ...(props.preview ? { counts: props.preview } : {}),
        })}
        <Select
          name="command"
          label={JOB_LABELS.command}
          required
          value={values.command}
          error={errors.command}
          options={Object.entries(COMMAND_CHOICES).map(([value, choice]) => ({
            value,
            label: `${choice.label}: ${choice.help}`,
          }))}
        />
        <Select
          name="level"
          label={JOB_LABELS.level}
          value={values.level || "info"}
          error={errors.level}
          hint="Only for set-log-level."
          options={LOG_LEVEL_CHOICES.map((level) => ({ value: level, label: level }))}
        />
        <TextInput
          name="ratePerMinute"
          label={JOB_LABELS.ratePerMinute}
          value={values.ratePerMinute}
          error={errors.ratePerMinute}
          hint="Empty: every device at once."
        />
        <div class="form-actions">
          <button type="submit" name="action" value="preview" class="button button-secondary">
            Preview
          </button>
          <button type="submit" name="action" value="create" class="button">Start job</button>
        </div>
      </form>
    </FleetPage>
  );
}

/** Props of {@link JobPage}. */
export interface JobPageProps {
  context: FleetContext;
  progress: JobProgressProps;
  notice?: string;
  refused?: string;
}

/** `/jobs/:id`. */
export function JobPage(props: JobPageProps): JSX.Element {
  const { job } = props.progress;
  const csrf = props.context.session?.csrfToken ?? "";
  return (
    <FleetPage context={props.context} title={job.name}>
      <p class="breadcrumb">
        <a href="/jobs">All jobs</a>
      </p>
      <PageHeader
        title={job.name}
        lead={
          <>
            <code>{job.command.name}</code>
            {job.command.args && <code>{JSON.stringify(job.command.args)}</code>} on{" "}
            <code>{job.selector || "(every device)"}</code>
            {job.ratePerMinute ? `, ${job.ratePerMinute} per minute` : ", all at once"}.
          </>
        }
      />
      {props.notice && <p class="notice" role="status">{props.notice}</p>}
      {props.refused && <p class="error-summary" role="alert">{props.refused}</p>}
      <Section id="progress" title="Progress">
        {island("JobProgress", JobProgress, props.progress)}
      </Section>
      {job.state === "running" && (
        <Section id="actions" title="Actions">
          <form method="post" action={`${jobPath(job.id)}/cancel`} class="command-form">
            <Hidden name={CSRF_FIELD} value={csrf} />
            <button type="submit" class="button">Cancel job</button>
          </form>
          <p class="hint">Cancelling cancels the commands not delivered yet.</p>
        </Section>
      )}
    </FleetPage>
  );
}

/** Shown (404) for an unknown job. */
export function JobNotFoundPage(props: { context: FleetContext; id: string }): JSX.Element {
  return (
    <FleetPage context={props.context} title="Job not found">
      <PageHeader
        title="Job not found"
        lead={
          <>
            No job with the id <code>{props.id}</code>.
          </>
        }
      />
      <p>
        <a href="/jobs">All jobs</a>
      </p>
    </FleetPage>
  );
}
