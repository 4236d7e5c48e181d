/**
 * The fleet as a table: one row per device with its presence, last contact, sync lag (records
 * the device wrote that the cloud has not stored yet), version, architecture and labels.
 * @module
 */
import type { JSX } from "preact";
import type { DeviceSummary } from "../../store/store.ts";
import { Badge } from "@outpost/web/components/badge";
import { DataTable } from "@outpost/web/components/table";
import { Timestamp } from "@outpost/web/components/timestamp";

/** A device as `GET /api/v1/devices` lists it. */
export type DeviceView = DeviceSummary;

/** Online or offline, as a word in a badge. */
export function PresenceBadge(props: { online: boolean }): JSX.Element {
  return props.online
    ? <Badge state="sync-online" text="Online" />
    : <Badge state="sync-offline" text="Offline" />;
}

const STATUS_TEXT = {
  active: "Active",
  revoked: "Revoked",
  decommissioned: "Decommissioned",
} as const;

/** A device's lifecycle status as a word in a badge. */
export function StatusBadge(props: { status: DeviceView["status"] }): JSX.Element {
  return <Badge state={`status-${props.status}`} text={STATUS_TEXT[props.status]} />;
}

/** Labels as `key=value` chips, or a dash. */
export function Labels(props: { labels: Record<string, string> }): JSX.Element {
  const entries = Object.entries(props.labels);
  if (entries.length === 0) return <span class="none">—</span>;
  return (
    <ul class="labels">
      {entries.map(([key, value]) => (
        <li key={key}>
          <code>{key}={value}</code>
        </li>
      ))}
    </ul>
  );
}

/** Props of {@link DeviceTable}. */
export interface DeviceTableProps {
  id: string;
  devices: DeviceView[];
  /** Shown when there are no rows. */
  empty: string;
}

/** The table, or the `empty` text. */
export function DeviceTable(props: DeviceTableProps): JSX.Element {
  return (
    <DataTable
      id={props.id}
      caption="Devices"
      hideCaption
      rows={props.devices}
      rowKey={(device) => device.id}
      empty={props.empty}
      columns={[
        {
          label: "Device",
          cell: (device) => (
            <a href={`/devices/${encodeURIComponent(device.id)}`} class="device-link">
              {device.id}
            </a>
          ),
        },
        {
          label: "Status",
          cell: (device) => (
            <span data-presence={device.id}>
              <PresenceBadge online={device.online} />
              {device.status !== "active" && (
                <>
                  {" "}
                  <StatusBadge status={device.status} />
                </>
              )}
            </span>
          ),
        },
        {
          label: "Last seen",
          cell: (device) => device.lastSeen ? <Timestamp value={device.lastSeen} /> : "never",
        },
        { label: "Lag", numeric: true, cell: (device) => device.lag.toLocaleString("en-US") },
        { label: "Version", cell: (device) => device.version ?? "—" },
        { label: "Arch", cell: (device) => device.arch ?? "—" },
        { label: "Labels", cell: (device) => <Labels labels={device.labels} /> },
      ]}
    />
  );
}
