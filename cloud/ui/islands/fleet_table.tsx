/**
 * The fleet table as an island: one page of devices (the server's page: the list is paginated
 * and filtered in SQL, never downloaded whole), the counts of every matching device by state as
 * tabs, and the pager. In the browser it polls the same page of `GET /api/v1/devices`
 * (authorized by the session cookie plus its CSRF token in `X-CSRF-Token`), so presence, last
 * seen, lag and the counts stay current without a reload.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { DeviceCounts } from "../../store/device_query.ts";
import { DeviceTable, type DeviceView } from "../components/device_table.tsx";
import {
  fleetHref,
  type FleetQuery,
  isEmptyQuery,
  type StateChoice,
} from "../components/fleet_filter.ts";
import { getJson, LiveIndicator, usePoll } from "@outpost/web/components/live";

/** Props of {@link FleetTable} (plain data: they travel in the page). */
export interface FleetTableProps {
  /** This page's devices, sorted by id. */
  devices: DeviceView[];
  /** Every device the selector and search match, by state. */
  counts: DeviceCounts;
  /** The next page's cursor, or null on the last page. */
  nextCursor: string | null;
  query: FleetQuery;
  /** When the snapshot was taken (ISO). */
  generatedAt: string;
  /** Poll interval; 0 turns live refresh off. */
  pollMs: number;
  /** The session's CSRF token, sent with each poll. */
  csrfToken: string;
  /** `GET` URL of this page of the list. */
  apiUrl: string;
}

interface FleetData {
  devices: DeviceView[];
  counts: DeviceCounts;
  nextCursor: string | null;
  updatedAt: string;
}

const TABS: { state: StateChoice; label: string; count: (c: DeviceCounts) => number }[] = [
  { state: "all", label: "All", count: (c) => c.total },
  { state: "online", label: "Online", count: (c) => c.online },
  { state: "offline", label: "Offline", count: (c) => c.offline },
  { state: "lagging", label: "Lagging", count: (c) => c.lagging },
];

function n(value: number): string {
  return value.toLocaleString("en-US");
}

/** The state tabs with counts, the table and the pager; live when hydrated. */
export function FleetTable(props: FleetTableProps): JSX.Element {
  const [data, setData] = useState<FleetData>({
    devices: props.devices,
    counts: props.counts,
    nextCursor: props.nextCursor,
    updatedAt: props.generatedAt,
  });
  const live = usePoll(props.pollMs, async () => {
    const page = await getJson<Omit<FleetData, "updatedAt"> & { items: DeviceView[] }>(
      props.apiUrl,
      { "x-csrf-token": props.csrfToken },
    );
    return {
      devices: page.items,
      counts: page.counts,
      nextCursor: page.nextCursor,
      updatedAt: new Date().toISOString(),
    };
  }, setData);
  const { query } = props;
  const { counts } = data;
  const filtered = query.selector !== "" || query.q !== "";
  return (
    <div class="fleet-table">
      <nav class="state-tabs" aria-label="Devices by state">
        <ul>
          {TABS.map((tab) => (
            <li key={tab.state}>
              <a
                href={fleetHref(query, { state: tab.state, cursor: undefined })}
                aria-current={tab.state === query.state ? "page" : undefined}
                data-state-count={tab.state}
              >
                {tab.label} <span class="count">{n(tab.count(counts))}</span>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <p class="fleet-summary" data-summary="">
        {filtered
          ? `${n(counts.total)} ${counts.total === 1 ? "device matches" : "devices match"}; ${
            n(counts.online)
          } online.`
          : `${n(counts.total)} device${counts.total === 1 ? "" : "s"}, ${
            n(counts.online)
          } online.`}
        {data.devices.length > 0 && ` This page: ${n(data.devices.length)}, by id.`}
      </p>
      <LiveIndicator live={live} pollMs={props.pollMs} updatedAt={data.updatedAt} />
      <DeviceTable
        id="devices-table"
        devices={data.devices}
        empty={counts.total === 0 && isEmptyQuery(query)
          ? "No devices are enrolled yet. A device appears here once its agent enrolls with this cloud's enrollment token."
          : "No device matches the filter."}
      />
      {(query.cursor || data.nextCursor) && (
        <nav class="pager" aria-label="Pages">
          {query.cursor && <a href={fleetHref(query, { cursor: undefined })}>First page</a>}
          {data.nextCursor && (
            <a href={fleetHref(query, { cursor: data.nextCursor })} rel="next">Next page</a>
          )}
        </nav>
      )}
    </div>
  );
}
