/**
 * `/`: the device at a glance — sync state, a chart per sensor, recent events — as the
 * `LiveDashboard` island, which refreshes itself when JavaScript runs.
 * @module
 */
import type { JSX } from "preact";
import type { AgentStore } from "../../../agent/store/store.ts";
import { PageHeader } from "../../components/layout.tsx";
import type { SyncStatusView } from "../../components/sync.tsx";
import { island } from "../../islands.ts";
import { LiveDashboard, type LiveDashboardProps } from "../../islands/live_dashboard.tsx";
import { AgentPage, type PageContext } from "../page.tsx";

/** Sensors charted on the dashboard; the readings page shows the rest. */
export const DASHBOARD_MAX_SENSORS = 12;
/** Newest readings per sensor chart. */
export const DASHBOARD_READINGS = 120;
/** Events listed. */
export const DASHBOARD_EVENTS = 10;

/** Dependencies of {@link loadDashboard}. */
export interface DashboardSources {
  store: AgentStore;
  syncStatus: () => Promise<SyncStatusView>;
  now: () => number;
  pollMs: number;
}

/** Reads what the dashboard shows, in the island's props shape. */
export async function loadDashboard(sources: DashboardSources): Promise<LiveDashboardProps> {
  const { store } = sources;
  const [sync, names, events] = await Promise.all([
    sources.syncStatus(),
    store.listSensors(),
    store.listEvents({ limit: DASHBOARD_EVENTS }),
  ]);
  const sensors = await Promise.all(
    names.slice(0, DASHBOARD_MAX_SENSORS).map(async (sensor) => {
      const rows = await store.queryReadings({ sensor, limit: DASHBOARD_READINGS });
      return {
        sensor,
        unit: rows[0]?.unit ?? "",
        points: rows.map((row) => ({ t: Date.parse(row.ts), v: row.value })).reverse(),
      };
    }),
  );
  return {
    sync,
    sensors,
    sensorCount: names.length,
    events,
    generatedAt: new Date(sources.now()).toISOString(),
    pollMs: sources.pollMs,
    readingsLimit: DASHBOARD_READINGS,
    eventsLimit: DASHBOARD_EVENTS,
    maxSensors: DASHBOARD_MAX_SENSORS,
  };
}

/** The dashboard page. */
export function DashboardPage(
  props: { context: PageContext; data: LiveDashboardProps },
): JSX.Element {
  return (
    <AgentPage context={props.context} title="Dashboard">
      <PageHeader
        title="Dashboard"
        lead={
          <>
            Device <strong>{props.context.deviceId}</strong>: sync, readings and events.
          </>
        }
      />
      {island("LiveDashboard", LiveDashboard, props.data)}
    </AgentPage>
  );
}
