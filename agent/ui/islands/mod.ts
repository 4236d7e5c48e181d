/**
 * The agent console's islands by name: pages render them with `island(name, …)` and the
 * console's client bundle (`agent/ui/client.ts`) hydrates them from this registry. Add an island
 * here and in no other place.
 * @module
 */
import type { IslandRegistry } from "@outpost/web/island_runtime";
import { EventsPanel } from "./events_panel.tsx";
import { LiveDashboard } from "./live_dashboard.tsx";

/** Island components of the agent console. */
export const agentIslands = {
  LiveDashboard,
  EventsPanel,
} satisfies IslandRegistry;
