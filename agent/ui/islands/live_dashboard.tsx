/**
 * The dashboard body as an island: sync state, a chart per chosen sensor, the sensor chooser and
 * recent events. Rendered on the server as a snapshot; in the browser it polls `/api/v1/sync`,
 * `/api/v1/readings` and `/api/v1/events` every `pollMs` and re-renders in place. The chooser is
 * a plain GET form, so choosing sensors works without JavaScript.
 * @module
 */
import type { JSX } from "preact";
import { useRef, useState } from "preact/hooks";
import { EventsTable, type EventView } from "@outpost/web/components/events";
import { formatMoment } from "@outpost/web/components/format";
import { Section } from "@outpost/web/components/layout";
import { SensorCharts, type SensorSeriesView } from "@outpost/web/components/sensor_charts";
import { SyncPanel, type SyncStatusView } from "../components/sync.tsx";
import { getJson, LiveIndicator, usePoll } from "@outpost/web/components/live";

/** A sensor the chooser offers, with its newest reading's time (ms; null: only future ones). */
export interface SensorChoiceView {
  sensor: string;
  lastTs: number | null;
}

/** Props of {@link LiveDashboard} (plain data: they travel in the page). */
export interface LiveDashboardProps {
  sync: SyncStatusView;
  /** The charted sensors, in order. */
  sensors: SensorSeriesView[];
  /** How many sensors exist. */
  sensorCount: number;
  events: EventView[];
  /** The operator's pinned sensors; empty: the most recently active are shown. */
  pinned: string[];
  /** Sensors the chooser offers, most recently active first. */
  choices: SensorChoiceView[];
  /** When the snapshot was taken (ISO). */
  generatedAt: string;
  /** Poll interval; 0 turns live refresh off. */
  pollMs: number;
  /** Readings per sensor, events, sensors shown by default, sensors that may be pinned. */
  readingsLimit: number;
  eventsLimit: number;
  defaultSensors: number;
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
  const now = Date.parse(data.updatedAt);

  return (
    <div class="live-dashboard">
      <LiveIndicator live={live} pollMs={props.pollMs} updatedAt={data.updatedAt} />
      <Section id="sync" title="Sync with the cloud">
        <SyncPanel sync={data.sync} now={now} />
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
              <p class="note" data-sensor-count>
                {shownText(data.sensors.length, data.sensorCount, props.pinned.length > 0)}
              </p>
              <SensorChooser
                {...props}
                shown={data.sensors.map((s) => s.sensor)}
                sensorCount={data.sensorCount}
                now={now}
              />
              <SensorCharts sensors={data.sensors} now={now} />
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

/** "Showing the 6 most recently active of 40 sensors." and the like. */
function shownText(shown: number, total: number, pinned: boolean): string {
  const of = `${shown} of ${total} sensors`;
  if (pinned) {
    return `Showing the ${shown === 1 ? "sensor" : `${shown} sensors`} you pinned (${of}).`;
  }
  if (shown >= total) return `Showing all ${total === 1 ? "1 sensor" : `${total} sensors`}.`;
  return `Showing ${of}: the most recently active. Choose others below, or see them all in Readings.`;
}

/** The chooser: a GET form of checkboxes; the choice is kept in a cookie by the server. */
function SensorChooser(
  props: LiveDashboardProps & { shown: string[]; now: number },
): JSX.Element {
  const checked = new Set(props.pinned.length > 0 ? props.pinned : props.shown);
  const more = props.sensorCount - props.choices.length;
  return (
    <details class="sensor-chooser" id="choose-sensors">
      <summary>Choose sensors</summary>
      <form method="get" action="/#charts">
        <input type="hidden" name="choose" value="1" />
        <fieldset>
          <legend>Pin up to {props.maxSensors} sensors (kept in this browser)</legend>
          <ul class="choices">
            {props.choices.map((choice) => (
              <li key={choice.sensor}>
                <label class="check">
                  <input
                    type="checkbox"
                    name="pin"
                    value={choice.sensor}
                    checked={checked.has(choice.sensor)}
                  />
                  <span>
                    <code>{choice.sensor}</code>{" "}
                    <span class="hint">
                      {choice.lastTs === null
                        ? "only future-dated readings"
                        : `last ${formatMoment(choice.lastTs, props.now)}`}
                    </span>
                  </span>
                </label>
              </li>
            ))}
          </ul>
          {more > 0 && (
            <p class="hint">
              {more} less active sensors are not listed; <a href="/readings">Readings</a>{" "}
              shows every sensor.
            </p>
          )}
        </fieldset>
        <div class="form-actions">
          <button type="submit" class="button">Show these</button>
          {props.pinned.length > 0 && (
            <a href="/?choose=1#charts" class="reset-pins">Show the most recently active</a>
          )}
        </div>
      </form>
    </details>
  );
}

interface ReadingItem {
  sensor: string;
  value: number;
  unit: string;
  ts: string;
}

/** Readings dated later than this are not "recent" (see the page's FUTURE_SLACK_MS). */
const FUTURE_SLACK_MS = 3_600_000;

async function fetchDashboard(known: string[], props: LiveDashboardProps): Promise<DashboardData> {
  const [sync, events, newest] = await Promise.all([
    getJson<SyncStatusView>("/api/v1/sync"),
    getJson<{ items: EventView[] }>(`/api/v1/events?limit=${props.eventsLimit}`),
    // Sensors that became active since the page was rendered show up among the newest readings.
    getJson<{ items: ReadingItem[] }>("/api/v1/readings?limit=500"),
  ]);
  const until = Date.now() + FUTURE_SLACK_MS;
  const recent = newest.items.filter((item) => Date.parse(item.ts) <= until)
    .map((item) => item.sensor);
  const seen = new Set([...recent, ...known, ...props.choices.map((c) => c.sensor)]);
  const shown = props.pinned.length > 0
    ? props.pinned
    : [...new Set([...recent, ...known])].slice(0, props.defaultSensors);
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
    sensorCount: Math.max(seen.size, props.sensorCount),
    events: events.items,
    updatedAt: new Date().toISOString(),
  };
}
