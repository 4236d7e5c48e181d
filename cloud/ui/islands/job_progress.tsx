/**
 * A job's state and counts as an island: rendered on the server; in the browser it polls
 * `GET /api/v1/jobs/:id` with the session, so commands are seen released, delivered and
 * answered.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { JobView } from "../../fleet/jobs.ts";
import { getJson, LiveIndicator, usePoll } from "@outpost/web/components/live";
import { JobCountsBar, StateBadge } from "../components/progress.tsx";

/** Props of {@link JobProgress} (plain data: they travel in the page). */
export interface JobProgressProps {
  job: JobView;
  apiUrl: string;
  csrfToken: string;
  pollMs: number;
  generatedAt: string;
}

/** State and counts; live when hydrated. */
export function JobProgress(props: JobProgressProps): JSX.Element {
  const [data, setData] = useState({ job: props.job, updatedAt: props.generatedAt });
  const live = usePoll(props.pollMs, async () => ({
    job: await getJson<JobView>(props.apiUrl, { "x-csrf-token": props.csrfToken }),
    updatedAt: new Date().toISOString(),
  }), setData);
  const { job } = data;
  return (
    <div class="job-progress">
      <p>
        <span data-job-state={job.state}>
          <StateBadge state={job.state} />
        </span>
        {job.counts.scheduled > 0 &&
          ` ${job.counts.scheduled.toLocaleString("en-US")} waiting for the job's rate.`}
      </p>
      <LiveIndicator live={live} pollMs={props.pollMs} updatedAt={data.updatedAt} />
      <JobCountsBar counts={job.counts} id="job-counts" />
    </div>
  );
}
