/**
 * The dashboard body as an island: sync state, a chart per sensor and recent events. Rendered
 * on the server as a snapshot; in the browser it polls `/api/v1/sync`, `/api/v1/readings` and
 * `/api/v1/events` every `pollMs` and re-renders in place.
 * @module
 */
import type { JSX } from "preact";
import { useRef, useState } from "preact/hooks";
import { EventsTable, type EventView } from "@outpost/web/components/events";
import { Section } from "@outpost/web/components/layout";
import { SensorCharts, type SensorSeriesView } from "@outpost/web/components/sensor_charts";
import { SyncPanel, type SyncStatusView } from "../components/sync.tsx";
import { getJson, LiveIndicator, usePoll } from "@outpost/web/components/live";

/** Props of {@link LiveDashboard} (plain data: they travel in the page). */
export interface LiveDashboardProps {
  sync: SyncStatusView;
  sensors: SensorSeriesView[];
  /** How many sensors exist (more than `sensors.length` when capped). */
  sensorCount: number;
  events: EventView[];
  /** When the snapshot was taken (ISO). */
  generatedAt: string;
  /** Poll interval; 0 turns live refresh off. */
  pollMs: number;
  /** Readings per sensor, events, and sensors shown. */
  readingsLimit: number;
  eventsLimit: number;
  maxSensors: number;
}

interface DashboardData {
  sync: SyncStatusView;
  sensors: SensorSeriesView[];
  sensorCount: number;
  events: EventView[];
  updatedAt: string;
}

/** The dashboard body; live when hydrated. */
export function LiveDashboard(props: LiveDashboardProps): JSX.Element {
  const [data, setData] = useState<DashboardData>({
    sync: props.sync,
    sensors: props.sensors,
    sensorCount: props.sensorCount,
    events: props.events,
    updatedAt: props.generatedAt,
  });
  const known = useRef(props.sensors.map((s) => s.sensor));
  const live = usePoll(props.pollMs, () => fetchDashboard(known.current, props), (next) => {
    known.current = next.sensors.map((s) => s.sensor);
    setData(next);
  });

  return (
    <div class="live-dashboard">
      <LiveIndicator live={live} pollMs={props.pollMs} updatedAt={data.updatedAt} />
      <Section id="sync" title="Sync with the cloud">
        <SyncPanel sync={data.sync} />
      </Section>
      <Section
        id="charts"
        title="Recent readings"
        actions={<a href="/readings">Explore readings</a>}
      >
        {data.sensors.length === 0
          ? (
            <p class="empty">
              No readings yet. Post some to <code>/api/v1/readings</code> and they appear here.
            </p>
          )
          : (
            <>
              {data.sensorCount > data.sensors.length && (
                <p class="note">
                  Showing {data.sensors.length} of {data.sensorCount} sensors;{" "}
                  <a href="/readings">Readings</a> shows them all.
                </p>
              )}
              <SensorCharts sensors={data.sensors} />
            </>
          )}
      </Section>
      <Section
        id="recent-events"
        title="Recent events"
        actions={<a href="/events">All events</a>}
      >
        <EventsTable id="recent-events-table" events={data.events} hideCaption />
      </Section>
    </div>
  );
}

interface ReadingItem {
  sensor: string;
  value: number;
  unit: string;
  ts: string;
}

async function fetchDashboard(known: string[], props: LiveDashboardProps): Promise<DashboardData> {
  const [sync, events, newest] = await Promise.all([
    getJson<SyncStatusView>("/api/v1/sync"),
    getJson<{ items: EventView[] }>(`/api/v1/events?limit=${props.eventsLimit}`),
    // Sensors that appeared since the page was rendered show up among the newest readings.
    getJson<{ items: ReadingItem[] }>("/api/v1/readings?limit=500"),
  ]);
  const names = [...new Set([...known, ...newest.items.map((item) => item.sensor)])].sort();
  const shown = names.slice(0, props.maxSensors);
  const sensors = await Promise.all(shown.map(async (sensor) => {
    const query = new URLSearchParams({ sensor, limit: String(props.readingsLimit) });
    const { items } = await getJson<{ items: ReadingItem[] }>(`/api/v1/readings?${query}`);
    return {
      sensor,
      unit: items[0]?.unit ?? "",
      points: items.map((item) => ({ t: Date.parse(item.ts), v: item.value })).reverse(),
    };
  }));
  return {
    sync,
    sensors,
    sensorCount: Math.max(names.length, props.sensorCount),
    events: events.items,
    updatedAt: new Date().toISOString(),
  };
}
