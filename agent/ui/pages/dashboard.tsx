/**
 * `/`: the device at a glance — sync state, a chart per sensor, recent events — as the
 * `LiveDashboard` island, which refreshes itself when JavaScript runs.
 *
 * Which sensors are charted: the operator's pinned ones, or else the most recently active
 * (never "the first alphabetically", which let a few test sensors push `temperature` off the
 * page). Pins come from the chooser, a plain GET form (`?choose=1&pin=a&pin=b`), and are kept in
 * a cookie so they survive reloads and visits without JavaScript; the page always says how many
 * of how many sensors it shows.
 * @module
 */
import type { JSX } from "preact";
import type { ConsoleStore } from "../console_store.ts";
import { PageHeader } from "@outpost/web/components/layout";
import type { SensorSeriesView } from "@outpost/web/components/sensor_charts";
import type { SyncStatusView } from "../components/sync.tsx";
import { cachedIsland } from "@outpost/web/render";
import { LiveDashboard, type LiveDashboardProps } from "../islands/live_dashboard.tsx";
import { AgentPage, type PageContext } from "../page.tsx";

/** Sensors charted when none are pinned: the most recently active. */
export const DASHBOARD_DEFAULT_SENSORS = 6;
/** Sensors that may be pinned (each is a chart and a query). */
export const DASHBOARD_MAX_SENSORS = 12;
/** Sensors listed in the chooser, most recently active first; Readings lists every one. */
export const DASHBOARD_CHOICES = 200;
/** Newest readings per sensor chart. */
export const DASHBOARD_READINGS = 120;
/** Events listed. */
export const DASHBOARD_EVENTS = 10;
/** The cookie that keeps the pinned sensors. */
export const PINS_COOKIE = "outpost_pins";
/**
 * Readings dated up to this far ahead still count as "recent" (a device clock a little fast);
 * later ones do not, so a reading from year 9999 cannot keep its sensor on top.
 */
const FUTURE_SLACK_MS = 3_600_000;

/** What the dashboard reads. */
type DashboardStore = Pick<
  ConsoleStore,
  "generation" | "sensorActivity" | "queryReadings" | "listEvents"
>;

/** Dependencies of {@link createDashboardLoader}. */
export interface DashboardSources {
  store: DashboardStore;
  syncStatus: () => Promise<SyncStatusView>;
  now: () => number;
  pollMs: number;
}

/** What one store generation holds: read once, shared by every render until the next write. */
interface GenerationView {
  generation: number;
  activity: Promise<{ sensor: string; lastTs: number | null }[]>;
  events: Promise<LiveDashboardProps["events"]>;
  /** Charts by sensor, read when first shown. */
  series: Map<string, Promise<SensorSeriesView>>;
}

/**
 * Pinned sensor names from the chooser's `pin` values or the cookie: trimmed, without
 * duplicates, at most {@link DASHBOARD_MAX_SENSORS}. Unknown names are dropped at render.
 */
export function parsePins(values: readonly string[]): string[] {
  const pins = values.flatMap((value) => value.split(",")).map((name) => name.trim())
    .filter((name) => name.length > 0 && name.length <= 64);
  return [...new Set(pins)].slice(0, DASHBOARD_MAX_SENSORS);
}

/** The pins kept in the request's cookie. */
export function pinsFromCookie(cookieHeader: string | null | undefined): string[] {
  for (const part of (cookieHeader ?? "").split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name !== PINS_COOKIE) continue;
    try {
      return parsePins([decodeURIComponent(rest.join("="))]);
    } catch {
      return [];
    }
  }
  return [];
}

/** `Set-Cookie` keeping `pins` for a year (or clearing them when empty). */
export function pinsCookie(pins: readonly string[], secure: boolean): string {
  const attributes = `Path=/; SameSite=Lax; HttpOnly${secure ? "; Secure" : ""}`;
  return pins.length === 0
    ? `${PINS_COOKIE}=; Max-Age=0; ${attributes}`
    : `${PINS_COOKIE}=${encodeURIComponent(pins.join(","))}; Max-Age=31536000; ${attributes}`;
}

/**
 * Returns a loader of the dashboard's props for a choice of pinned sensors (none: the most
 * recently active). The store's part is read once per store generation and shared by every
 * render until the next write, so a page polled by many browsers, or by one between writes,
 * costs only the sync status and the render. Readers that arrive while it is being read wait
 * for the same read.
 */
export function createDashboardLoader(
  sources: DashboardSources,
): (pinned?: readonly string[]) => Promise<LiveDashboardProps> {
  const { store } = sources;
  let cached: GenerationView | undefined;

  /** The current generation's view; a failed read is dropped so the next load reads again. */
  const view = (): GenerationView => {
    // Taken before reading: a write that commits meanwhile bumps it, so a result that might
    // predate the write is never served under the newer generation.
    const generation = store.generation;
    if (cached?.generation === generation) return cached;
    const fresh: GenerationView = {
      generation,
      activity: store.sensorActivity(sources.now() + FUTURE_SLACK_MS),
      events: store.listEvents({ limit: DASHBOARD_EVENTS }),
      series: new Map(),
    };
    const forget = () => {
      if (cached === fresh) cached = undefined;
    };
    fresh.activity.catch(forget);
    fresh.events.catch(forget);
    cached = fresh;
    return fresh;
  };

  const seriesOf = (current: GenerationView, sensor: string): Promise<SensorSeriesView> => {
    let series = current.series.get(sensor);
    if (!series) {
      series = store.queryReadings({ sensor, limit: DASHBOARD_READINGS }).then((rows) => ({
        sensor,
        unit: rows[0]?.unit ?? "",
        points: rows.map((row) => ({ t: Date.parse(row.ts), v: row.value })).reverse(),
      }));
      current.series.set(sensor, series);
      series.catch(() => {
        if (current.series.get(sensor) === series) current.series.delete(sensor);
      });
    }
    return series;
  };

  return async function loadDashboard(pinned = []): Promise<LiveDashboardProps> {
    const current = view();
    const [sync, activity, events] = await Promise.all([
      sources.syncStatus(),
      current.activity,
      current.events,
    ]);
    const known = new Set(activity.map((entry) => entry.sensor));
    const pins = pinned.filter((name) => known.has(name));
    const shown = pins.length > 0
      ? pins
      : activity.slice(0, DASHBOARD_DEFAULT_SENSORS).map((entry) => entry.sensor);
    const sensors = await Promise.all(shown.map((sensor) => seriesOf(current, sensor)));
    return {
      sync,
      sensors,
      sensorCount: activity.length,
      events,
      pinned: pins,
      choices: activity.slice(0, DASHBOARD_CHOICES),
      // Whole seconds (what the page shows): renders within one second then have equal props,
      // so the page's render cache serves them (see DashboardPage).
      generatedAt: new Date(Math.floor(sources.now() / 1000) * 1000).toISOString(),
      pollMs: sources.pollMs,
      readingsLimit: DASHBOARD_READINGS,
      eventsLimit: DASHBOARD_EVENTS,
      defaultSensors: DASHBOARD_DEFAULT_SENSORS,
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
      {
        // The body is a function of its props alone; the store's part of them changes only with
        // a write, so browsers polling between writes share one render.
        cachedIsland("LiveDashboard", LiveDashboard, props.data)
      }
    </AgentPage>
  );
}
