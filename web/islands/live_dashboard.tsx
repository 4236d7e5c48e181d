/**
 * The dashboard body as an island: sync state, a chart per sensor and recent events. Rendered
 * on the server as a snapshot; in the browser it polls `/api/v1/sync`, `/api/v1/readings` and
 * `/api/v1/events` every `pollMs` and re-renders in place.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type ChartPoint, LineChart } from "../components/chart.tsx";
import { EventsTable, type EventView } from "../components/events.tsx";
import { formatTime } from "../components/format.ts";
import { Section } from "../components/layout.tsx";
import { SyncPanel, type SyncStatusView } from "../components/sync.tsx";

/** Recent readings of one sensor, oldest first. */
export interface SensorSeriesView {
  sensor: string;
  unit: string;
  points: ChartPoint[];
}

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

type LiveState = { state: "snapshot" } | { state: "live" } | { state: "error"; message: string };

/** The dashboard body; live when hydrated. */
export function LiveDashboard(props: LiveDashboardProps): JSX.Element {
  const [data, setData] = useState<DashboardData>({
    sync: props.sync,
    sensors: props.sensors,
    sensorCount: props.sensorCount,
    events: props.events,
    updatedAt: props.generatedAt,
  });
  const [live, setLive] = useState<LiveState>({ state: "snapshot" });

  useEffect(() => {
    if (!(props.pollMs > 0)) return;
    setLive({ state: "live" });
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let known = props.sensors.map((s) => s.sensor);
    const tick = async () => {
      // A hidden tab does not need fresh charts; check again on the next tick.
      if (!(globalThis as { document?: { hidden?: boolean } }).document?.hidden) {
        try {
          const next = await fetchDashboard(known, props);
          known = next.sensors.map((s) => s.sensor);
          if (!stopped) {
            setData(next);
            setLive({ state: "live" });
          }
        } catch (error) {
          if (!stopped) setLive({ state: "error", message: (error as Error).message });
        }
      }
      if (!stopped) timer = setTimeout(tick, props.pollMs);
    };
    timer = setTimeout(tick, props.pollMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  return (
    <div class="live-dashboard">
      <p class="live-indicator" data-live-state={live.state}>
        {live.state === "snapshot" && (
          <>Snapshot taken {formatTime(data.updatedAt)} UTC. Reload the page for newer data.</>
        )}
        {live.state === "live" && (
          <>
            <span class="live-dot" aria-hidden="true" /> Live: refreshes every{" "}
            {Math.round(props.pollMs / 1000)} s; last update {formatTime(data.updatedAt)} UTC.
          </>
        )}
        {live.state === "error" && (
          <>
            Live refresh paused ({live.message}); retrying. Last update {formatTime(data.updatedAt)}
            {" "}
            UTC.
          </>
        )}
      </p>
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
              <div class="chart-grid">
                {data.sensors.map((series, index) => (
                  <LineChart
                    key={series.sensor}
                    colorOffset={index}
                    id={`chart-${index}-${slug(series.sensor)}`}
                    title={`${series.sensor}${series.unit ? ` (${series.unit})` : ""}`}
                    unit={series.unit}
                    series={[{ name: series.sensor, points: series.points }]}
                    emptyText={`No readings of ${series.sensor}.`}
                  />
                ))}
              </div>
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

/** A string usable inside an element id. */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "x";
}

async function getJson<T>(url: string): Promise<T> {
  // A hung request would stall every later refresh (the next one waits for this one).
  const response = await fetch(url, {
    headers: { accept: "application/json" },
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${url.split("?")[0]} answered ${response.status}`);
  }
  return await response.json() as T;
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
