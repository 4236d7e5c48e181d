/**
 * `/`: the fleet — a GET filter form (works without JavaScript) and the device table as the
 * `FleetTable` island, which keeps itself current when JavaScript runs.
 * @module
 */
import type { JSX } from "preact";
import type { FleetReadModel } from "../../fleet/operations.ts";
import type { EnrollmentRequestView } from "../../store/store.ts";
import type { DeviceView } from "../components/device_table.tsx";
import { type FleetFilter, isEmptyFilter, matchesFleetFilter } from "../components/fleet_filter.ts";
import { Select, TextInput } from "@outpost/web/components/form";
import { PageHeader } from "@outpost/web/components/layout";
import { island } from "@outpost/web/island_runtime";
import { FleetTable, type FleetTableProps } from "../islands/fleet_table.tsx";
import { type FleetContext, FleetPage } from "../page.tsx";

/** The API the island polls (the same list the page shows). */
export const DEVICES_API = "/api/v1/devices";

/** Dependencies of {@link loadFleet}. */
export interface FleetSources {
  store: Pick<FleetReadModel, "listDevices">;
  filter: FleetFilter;
  csrfToken: string;
  pollMs: number;
  now: () => number;
}

/** Reads the fleet, in the island's props shape. */
export async function loadFleet(sources: FleetSources): Promise<FleetTableProps> {
  const devices: DeviceView[] = await sources.store.listDevices();
  return {
    devices: devices.filter((device) => matchesFleetFilter(device, sources.filter)),
    total: devices.length,
    filter: sources.filter,
    generatedAt: new Date(sources.now()).toISOString(),
    pollMs: sources.pollMs,
    csrfToken: sources.csrfToken,
    apiUrl: DEVICES_API,
  };
}

/** Props of {@link DevicesPage}. */
export interface DevicesPageProps {
  context: FleetContext;
  data: FleetTableProps;
  /** Enrollment requests awaiting a decision, across the fleet (the most recent). */
  pendingRequests?: EnrollmentRequestView[];
  /** A device just deleted. */
  deleted?: string;
}

/** The devices page. */
export function DevicesPage(props: DevicesPageProps): JSX.Element {
  const { filter } = props.data;
  const pending = props.pendingRequests ?? [];
  const devices = [...new Set(pending.map((request) => request.deviceId))];
  return (
    <FleetPage context={props.context} title="Devices">
      <PageHeader
        title="Devices"
        lead="Every enrolled device: presence, last contact and how far its upload lags behind."
      />
      {props.deleted && <p class="notice" role="status">Device {props.deleted} was deleted.</p>}
      {pending.length > 0 && (
        <div class="notice" role="status" id="pending-requests">
          <p>
            Enrollment requests wait for a decision: someone asked to enroll as a device that is
            already enrolled, without its device secret. Open the device to approve or reject:
          </p>
          <ul class="inline-list">
            {devices.map((id) => (
              <li key={id}>
                <a href={`/devices/${encodeURIComponent(id)}#lifecycle`}>{id}</a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <form method="get" action="/" class="filters" role="search" aria-label="Filter devices">
        <TextInput
          name="q"
          label="Search"
          type="search"
          value={filter.q}
          hint="Part of a device id or a label, e.g. site=north."
        />
        <Select
          name="status"
          label="Status"
          required
          value={filter.status}
          options={[
            { value: "all", label: "All" },
            { value: "online", label: "Online" },
            { value: "offline", label: "Offline" },
          ]}
        />
        <div class="field filter-actions">
          <button type="submit" class="button">Filter</button>
          {!isEmptyFilter(filter) && <a href="/">Clear</a>}
        </div>
      </form>
      {island("FleetTable", FleetTable, props.data)}
    </FleetPage>
  );
}
