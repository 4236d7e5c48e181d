/**
 * Client entry of the agent console: hydrates the islands on the page, nothing else. Built by
 * `deno task build:web` into `web/static/build/agent.<hash>.js`.
 * @module
 */
import { hydrateIslands } from "../../web/island_runtime.ts";
import { agentIslands } from "./islands/mod.ts";

hydrateIslands(agentIslands);
