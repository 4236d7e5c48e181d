/**
 * `/events`: the events list and the new-event form, as the `EventsPanel` island.
 * @module
 */
import type { JSX } from "preact";
import type { EventView } from "@outpost/web/components/events";
import { PageHeader } from "@outpost/web/components/layout";
import { island } from "@outpost/web/island_runtime";
import { EventsPanel, type EventsPanelProps } from "../islands/events_panel.tsx";
import { AgentPage, type PageContext } from "../page.tsx";

/** Events listed on the page. */
export const EVENTS_PAGE_LIMIT = 50;

/** The events page. */
export function EventsPage(
  props: { context: PageContext; panel: EventsPanelProps; added?: EventView },
): JSX.Element {
  return (
    <AgentPage context={props.context} title="Events">
      <PageHeader
        title="Events"
        lead="Things that happened on this device, newest first. They upload to the cloud like readings."
      />
      {props.added && (
        <p class="notice" role="status">
          Event added: <code>{props.added.kind}</code> ({props.added.severity}).
        </p>
      )}
      {island("EventsPanel", EventsPanel, props.panel)}
    </AgentPage>
  );
}
