/**
 * The cloud's migrations, provided statically so they survive `deno compile`.
 * @module
 */
import type { Migration } from "kysely/migration";
import * as m0001 from "./0001_initial.ts";

/** Every migration by name; names sort in the order they run. */
export const cloudMigrations: Record<string, Migration> = {
  "0001_initial": m0001,
};
