/**
 * The agent console's islands by name: the server renders them with `island(name, …)` and the
 * client bundle hydrates them from this registry. Add an island here and in no other place.
 * @module
 */
import type { IslandRegistry } from "../islands.ts";
import { EventsPanel } from "./events_panel.tsx";
import { LiveDashboard } from "./live_dashboard.tsx";

/** Island components of the agent console. */
export const agentIslands = {
  LiveDashboard,
  EventsPanel,
} satisfies IslandRegistry;
