/**
 * The fleet console's islands by name: pages render them with `island(name, …)` and the
 * console's client bundle (`cloud/ui/client.ts`) hydrates them from this registry. Add an island
 * here and in no other place.
 * @module
 */
import type { IslandRegistry } from "@outpost/web/island_runtime";
import { CommandList } from "./command_list.tsx";
import { FleetTable } from "./fleet_table.tsx";
import { JobProgress } from "./job_progress.tsx";
import { RolloutProgress } from "./rollout_progress.tsx";
import { SelectorPreview } from "./selector_preview.tsx";

/** Island components of the fleet console. */
export const fleetIslands = {
  FleetTable,
  CommandList,
  SelectorPreview,
  RolloutProgress,
  JobProgress,
} satisfies IslandRegistry;
