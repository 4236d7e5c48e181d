/**
 * The fleet table as an island: rendered on the server with the devices that pass the filter;
 * in the browser it polls `GET /api/v1/devices` (authorized by the session cookie plus its
 * CSRF token in `X-CSRF-Token`) and applies the same filter, so presence, last seen and lag
 * stay current without a reload.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { DeviceTable, type DeviceView } from "../components/device_table.tsx";
import { type FleetFilter, isEmptyFilter, matchesFleetFilter } from "../components/fleet_filter.ts";
import { getJson, LiveIndicator, usePoll } from "@outpost/web/components/live";

/** Props of {@link FleetTable} (plain data: they travel in the page). */
export interface FleetTableProps {
  /** The devices that pass `filter`, sorted by id. */
  devices: DeviceView[];
  /** Devices enrolled in all. */
  total: number;
  filter: FleetFilter;
  /** When the snapshot was taken (ISO). */
  generatedAt: string;
  /** Poll interval; 0 turns live refresh off. */
  pollMs: number;
  /** The session's CSRF token, sent with each poll. */
  csrfToken: string;
  /** `GET` URL of the fleet list. */
  apiUrl: string;
}

interface FleetData {
  devices: DeviceView[];
  total: number;
  updatedAt: string;
}

/** The summary line and the table; live when hydrated. */
export function FleetTable(props: FleetTableProps): JSX.Element {
  const [data, setData] = useState<FleetData>({
    devices: props.devices,
    total: props.total,
    updatedAt: props.generatedAt,
  });
  const live = usePoll(props.pollMs, async () => {
    const { items } = await getJson<{ items: DeviceView[] }>(props.apiUrl, {
      "x-csrf-token": props.csrfToken,
    });
    return {
      devices: items.filter((device) => matchesFleetFilter(device, props.filter)),
      total: items.length,
      updatedAt: new Date().toISOString(),
    };
  }, setData);
  const online = data.devices.filter((device) => device.online).length;
  const filtered = !isEmptyFilter(props.filter);
  return (
    <div class="fleet-table">
      <p class="fleet-summary" data-summary="">
        {filtered
          ? `${data.devices.length} of ${data.total} devices match the filter; ${online} of them online.`
          : `${data.total} device${data.total === 1 ? "" : "s"}, ${online} online.`}
      </p>
      <LiveIndicator live={live} pollMs={props.pollMs} updatedAt={data.updatedAt} />
      <DeviceTable
        id="devices-table"
        devices={data.devices}
        empty={data.total === 0
          ? "No devices are enrolled yet. A device appears here once its agent enrolls with this cloud's enrollment token."
          : "No device matches the filter."}
      />
    </div>
  );
}
