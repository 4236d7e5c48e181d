/**
 * `/`: the device at a glance — sync state, a chart per sensor, recent events — as the
 * `LiveDashboard` island, which refreshes itself when JavaScript runs.
 * @module
 */
import type { JSX } from "preact";
import type { ConsoleStore } from "../console_store.ts";
import { PageHeader } from "@outpost/web/components/layout";
import type { SyncStatusView } from "../components/sync.tsx";
import { island } from "@outpost/web/island_runtime";
import { LiveDashboard, type LiveDashboardProps } from "../islands/live_dashboard.tsx";
import { AgentPage, type PageContext } from "../page.tsx";

/** Sensors charted on the dashboard; the readings page shows the rest. */
export const DASHBOARD_MAX_SENSORS = 12;
/** Newest readings per sensor chart. */
export const DASHBOARD_READINGS = 120;
/** Events listed. */
export const DASHBOARD_EVENTS = 10;

/** What the dashboard reads. */
type DashboardStore = Pick<
  ConsoleStore,
  "generation" | "listSensors" | "queryReadings" | "listEvents"
>;

/** Dependencies of {@link createDashboardLoader}. */
export interface DashboardSources {
  store: DashboardStore;
  syncStatus: () => Promise<SyncStatusView>;
  now: () => number;
  pollMs: number;
}

/** What the dashboard reads from the store: unchanged while the store's generation holds. */
interface DashboardStoreView {
  sensors: LiveDashboardProps["sensors"];
  sensorCount: number;
  events: LiveDashboardProps["events"];
}

async function readDashboardStore(store: DashboardStore): Promise<DashboardStoreView> {
  const [names, events] = await Promise.all([
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
  return { sensors, sensorCount: names.length, events };
}

/**
 * Returns a loader of the dashboard's props. The store's part (up to 13 queries) is read once
 * per store generation and shared by every render until the next write, so a page polled by
 * many browsers, or by one between writes, costs only the sync status and the render. Readers
 * that arrive while it is being read wait for the same read.
 */
export function createDashboardLoader(
  sources: DashboardSources,
): () => Promise<LiveDashboardProps> {
  let cached: { generation: number; view: Promise<DashboardStoreView> } | undefined;
  return async function loadDashboard(): Promise<LiveDashboardProps> {
    // Taken before reading: a write that commits meanwhile bumps it, so a result that might
    // predate the write is never served under the newer generation.
    const generation = sources.store.generation;
    if (cached?.generation !== generation) {
      const view = readDashboardStore(sources.store);
      cached = { generation, view };
      view.catch(() => {
        if (cached?.view === view) cached = undefined; // a failed read is not kept
      });
    }
    const [sync, view] = await Promise.all([sources.syncStatus(), cached.view]);
    return {
      sync,
      ...view,
      generatedAt: new Date(sources.now()).toISOString(),
      pollMs: sources.pollMs,
      readingsLimit: DASHBOARD_READINGS,
      eventsLimit: DASHBOARD_EVENTS,
      maxSensors: DASHBOARD_MAX_SENSORS,
    };
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
