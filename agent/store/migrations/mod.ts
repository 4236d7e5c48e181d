/**
 * The agent's migrations, provided statically so they survive `deno compile`.
 * @module
 */
import type { Migration } from "kysely/migration";
import * as m0001 from "./0001_initial.ts";
import * as m0002 from "./0002_commands_seen.ts";
import * as m0003 from "./0003_event_time_and_idempotency.ts";

/** Every migration by name; names sort in the order they run. */
export const agentMigrations: Record<string, Migration> = {
  "0001_initial": m0001,
  "0002_commands_seen": m0002,
  "0003_event_time_and_idempotency": m0003,
};
