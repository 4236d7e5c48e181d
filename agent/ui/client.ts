/**
 * Client entry of the agent console: hydrates the islands on the page, nothing else. Built by
 * `deno task build:web` into `web/static/build/agent.<hash>.js`.
 * @module
 */
import { hydrateIslands } from "@outpost/web/island_runtime";
import { agentIslands } from "./islands/mod.ts";

hydrateIslands(agentIslands);
