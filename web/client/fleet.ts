/**
 * Client entry of the fleet console: hydrates the islands on the page, nothing else. Built by
 * `web/build.ts` into `web/static/build/fleet.<hash>.js`.
 * @module
 */
import { hydrateIslands } from "../islands.ts";
import { fleetIslands } from "../islands/mod.ts";

hydrateIslands(fleetIslands);
