/**
 * Client entry of the fleet console: hydrates the islands on the page, nothing else. Built by
 * `deno task build:web` into `web/static/build/fleet.<hash>.js`.
 * @module
 */
import { hydrateIslands } from "@outpost/web/island_runtime";
import { fleetIslands } from "./islands/mod.ts";

hydrateIslands(fleetIslands);
