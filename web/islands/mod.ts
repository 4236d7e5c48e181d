/**
 * The consoles' islands by name: the server renders them with `island(name, …)` and each
 * console's client bundle hydrates them from its registry here. Add an island here and in no
 * other place.
 * @module
 */
import type { IslandRegistry } from "../islands.ts";
import { CommandList } from "./command_list.tsx";
import { EventsPanel } from "./events_panel.tsx";
import { FleetTable } from "./fleet_table.tsx";
import { LiveDashboard } from "./live_dashboard.tsx";

/** Island components of the agent console. */
export const agentIslands = {
  LiveDashboard,
  EventsPanel,
} satisfies IslandRegistry;

/** Island components of the fleet console (the cloud). */
export const fleetIslands = {
  FleetTable,
  CommandList,
} satisfies IslandRegistry;
