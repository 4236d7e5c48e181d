/**
 * `/`: the fleet — a GET form (label selector, id prefix, state; works without JavaScript) and
 * one page of the device table as the `FleetTable` island, with the counts of every match. The
 * page reads one page from the store (keyset by id), never the whole fleet.
 * @module
 */
import type { JSX } from "preact";
import type { FleetReadModel } from "../../fleet/operations.ts";
import { parseSelector } from "../../fleet/selector.ts";
import type { EnrollmentRequestView } from "../../store/store.ts";
import { CursorError, type DeviceCounts, type DeviceFilter } from "../../store/device_query.ts";
import {
  CONSOLE_PAGE_SIZE,
  devicesApiUrl,
  type FleetQuery,
  isEmptyQuery,
} from "../components/fleet_filter.ts";
import { ErrorSummary, Select, TextInput } from "@outpost/web/components/form";
import { PageHeader } from "@outpost/web/components/layout";
import { island } from "@outpost/web/island_runtime";
import { FleetTable, type FleetTableProps } from "../islands/fleet_table.tsx";
import { type FleetContext, FleetPage } from "../page.tsx";

/** Device ids hold only these; a search for anything else matches nothing and says so. */
const ID_PREFIX = /^[A-Za-z0-9_.-]*$/;

/** Dependencies of {@link loadFleet}. */
export interface FleetSources {
  store: Pick<FleetReadModel, "listDevicesPage">;
  /** The counts (cached: `FleetOperations.countDevices`). */
  counts: (filter: DeviceFilter) => Promise<DeviceCounts>;
  query: FleetQuery;
  csrfToken: string;
  pollMs: number;
  now: () => number;
}

/** What the devices page shows: the island's props, or the form's errors (422). */
export type FleetPageData =
  | { ok: true; query: FleetQuery; table: FleetTableProps }
  | { ok: false; query: FleetQuery; errors: Record<string, string> };

/** Reads one page of the fleet, in the island's props shape. */
export async function loadFleet(sources: FleetSources): Promise<FleetPageData> {
  const { query } = sources;
  const errors: Record<string, string> = {};
  const selector = parseSelector(query.selector);
  if (!selector.ok) errors.selector = `Selector: ${selector.error.message}.`;
  if (!ID_PREFIX.test(query.q)) {
    errors.q = "Search: device ids hold only letters, digits, '_', '.' and '-'.";
  }
  if (!selector.ok || errors.q) return { ok: false, query, errors };
  try {
    const page = await sources.store.listDevicesPage({
      limit: CONSOLE_PAGE_SIZE,
      ...(query.cursor ? { cursor: query.cursor } : {}),
      ...(query.state !== "all" ? { state: query.state } : {}),
      ...(selector.selector.requirements.length ? { selector: selector.selector } : {}),
      ...(query.q ? { q: query.q } : {}),
    }, { counts: sources.counts });
    return {
      ok: true,
      query,
      table: {
        devices: page.items,
        counts: page.counts,
        nextCursor: page.nextCursor,
        query,
        generatedAt: new Date(sources.now()).toISOString(),
        pollMs: sources.pollMs,
        csrfToken: sources.csrfToken,
        apiUrl: devicesApiUrl(query),
      },
    };
  } catch (error) {
    if (!(error instanceof CursorError)) throw error;
    return {
      ok: false,
      query,
      errors: { cursor: "This page link is not valid any more; start again from the first page." },
    };
  }
}

/** Props of {@link DevicesPage}. */
export interface DevicesPageProps {
  context: FleetContext;
  data: FleetPageData;
  /** Enrollment requests awaiting a decision, across the fleet (the most recent). */
  pendingRequests?: EnrollmentRequestView[];
  /** A device just deleted. */
  deleted?: string;
}

/** The devices page. */
export function DevicesPage(props: DevicesPageProps): JSX.Element {
  const { query } = props.data;
  const errors = props.data.ok ? {} : props.data.errors;
  const pending = props.pendingRequests ?? [];
  const pendingDevices = [...new Set(pending.map((request) => request.deviceId))];
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
            {pendingDevices.map((id) => (
              <li key={id}>
                <a href={`/devices/${encodeURIComponent(id)}#lifecycle`}>{id}</a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <ErrorSummary
        errors={errors}
        ids={{ cursor: "first-page" }}
        title="The list could not be shown"
      />
      <form method="get" action="/" class="filters" role="search" aria-label="Filter devices">
        <TextInput
          name="selector"
          label="Label selector"
          value={query.selector}
          error={errors.selector}
          hint="Kubernetes syntax: site=berlin,role!=gateway,tier in (a,b),!decommissioned"
        />
        <TextInput
          name="q"
          label="Device id starts with"
          type="search"
          value={query.q}
          error={errors.q}
        />
        <Select
          name="state"
          label="State"
          required
          value={query.state}
          options={[
            { value: "all", label: "All" },
            { value: "online", label: "Online" },
            { value: "offline", label: "Offline" },
            { value: "lagging", label: "Lagging (1,000+ records behind)" },
          ]}
        />
        <div class="field filter-actions">
          <button type="submit" class="button">Filter</button>
          {!isEmptyQuery(query) && <a href="/">Clear</a>}
        </div>
      </form>
      {props.data.ok ? island("FleetTable", FleetTable, props.data.table) : errors.cursor && (
        <p>
          <a href="/" id="first-page">First page</a>
        </p>
      )}
    </FleetPage>
  );
}
