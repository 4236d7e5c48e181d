/**
 * Client entry of the agent console: hydrates the islands on the page, nothing else. Built by
 * `web/build.ts` into `web/static/build/agent.<hash>.js`.
 * @module
 */
import { hydrateIslands } from "../islands.ts";
import { agentIslands } from "../islands/mod.ts";

hydrateIslands(agentIslands);
