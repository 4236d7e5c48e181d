/**
 * Events as a table (newest first) with a textual severity badge.
 * @module
 */
import type { JSX } from "preact";
import { truncate } from "./format.ts";
import { DataTable } from "./table.tsx";
import { Timestamp } from "./timestamp.tsx";

/** An event as the API returns it. */
export interface EventView {
  id: string;
  seq: number;
  kind: string;
  severity: string;
  message: string;
  data?: unknown;
  /** When it happened (device time); both APIs call it `ts`. */
  ts: string;
}

/** The severity as a word in a coloured badge (the word carries the meaning, not the colour). */
export function SeverityBadge(props: { severity: string }): JSX.Element {
  return <span class={`badge severity-${props.severity}`}>{props.severity}</span>;
}

/** Props of {@link EventsTable}. */
export interface EventsTableProps {
  id: string;
  events: EventView[];
  caption?: string;
  hideCaption?: boolean;
  /** Id of an event to highlight (just added). */
  highlight?: string;
}

/** The events table, or "No events yet." */
export function EventsTable(props: EventsTableProps): JSX.Element {
  return (
    <DataTable
      id={props.id}
      caption={props.caption ?? "Events, newest first"}
      hideCaption={props.hideCaption}
      rows={props.events}
      rowKey={(event) => event.id}
      empty="No events yet."
      columns={[
        {
          label: "Time",
          cell: (event) => <Timestamp value={event.ts} highlight={event.id === props.highlight} />,
        },
        { label: "Severity", cell: (event) => <SeverityBadge severity={event.severity} /> },
        { label: "Kind", cell: (event) => <code>{event.kind}</code> },
        {
          label: "Message",
          cell: (event) => (
            <>
              <span class="event-message">{event.message}</span>
              {event.data !== undefined && (
                <code class="event-data">{truncate(JSON.stringify(event.data), 200)}</code>
              )}
            </>
          ),
        },
      ]}
    />
  );
}
