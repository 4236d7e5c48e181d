/**
 * A rollout's state, counts and waves as an island: rendered on the server; in the browser it
 * polls `GET /api/v1/rollouts/:id` with the session, so waves are seen starting, baking and
 * completing, and counts moving (also after it succeeded: offline devices answer when they
 * return).
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { RolloutBody } from "../../http/rollouts.ts";
import { DataTable } from "@outpost/web/components/table";
import { Timestamp } from "@outpost/web/components/timestamp";
import { getJson, LiveIndicator, usePoll } from "@outpost/web/components/live";
import { RolloutCountsView, StateBadge } from "../components/progress.tsx";

/** Props of {@link RolloutProgress} (plain data: they travel in the page). */
export interface RolloutProgressProps {
  rollout: RolloutBody;
  /** `GET` URL of the rollout. */
  apiUrl: string;
  csrfToken: string;
  pollMs: number;
  generatedAt: string;
}

type Wave = RolloutBody["waves"][number];

const WAVE_HELP: Record<string, string> = {
  waiting: "not started",
  running: "sent; waiting for its online devices to answer",
  baking: "its online devices answered; waiting out the bake time",
  completed: "done",
  skipped: "not started: the rollout was aborted",
};

/** State, reason, counts and the waves table; live when hydrated. */
export function RolloutProgress(props: RolloutProgressProps): JSX.Element {
  const [data, setData] = useState({ rollout: props.rollout, updatedAt: props.generatedAt });
  const live = usePoll(props.pollMs, async () => ({
    rollout: await getJson<RolloutBody>(props.apiUrl, { "x-csrf-token": props.csrfToken }),
    updatedAt: new Date().toISOString(),
  }), setData);
  const { rollout } = data;
  return (
    <div class="rollout-progress">
      <p class="rollout-state">
        <span data-rollout-state={rollout.state}>
          <StateBadge state={rollout.state} />
        </span>
        {rollout.reason && <span class="rollout-reason">{rollout.reason}</span>}
      </p>
      <LiveIndicator live={live} pollMs={props.pollMs} updatedAt={data.updatedAt} />
      <RolloutCountsView counts={rollout.counts} id="rollout-counts" />
      <DataTable<Wave & { index: number }>
        id="waves-table"
        caption="Waves"
        rows={rollout.waves.map((wave, index) => ({ ...wave, index }))}
        rowKey={(wave) => String(wave.index)}
        empty="No waves."
        columns={[
          { label: "Wave", numeric: true, cell: (wave) => wave.index + 1 },
          { label: "Reaches", numeric: true, cell: (wave) => `${wave.percent}%` },
          { label: "Devices", numeric: true, cell: (wave) => wave.size.toLocaleString("en-US") },
          {
            label: "State",
            cell: (wave) => (
              <span data-wave-state={wave.index} title={WAVE_HELP[wave.state]}>
                <StateBadge state={wave.state} />
              </span>
            ),
          },
          {
            label: "Applied / failed / pending / offline",
            cell: (wave) =>
              [wave.counts.applied, wave.counts.failed, wave.counts.pending, wave.counts.offline]
                .map((value) => value.toLocaleString("en-US")).join(" / "),
          },
          { label: "Bake", numeric: true, cell: (wave) => `${wave.bakeSeconds} s` },
          {
            label: "Started",
            cell: (wave) => (wave.startedAt ? <Timestamp value={wave.startedAt} /> : "—"),
          },
          {
            label: "Completed",
            cell: (wave) => (wave.completedAt ? <Timestamp value={wave.completedAt} /> : "—"),
          },
        ]}
      />
    </div>
  );
}
