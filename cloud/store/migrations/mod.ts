/**
 * The cloud's migrations, provided statically so they survive `deno compile`.
 * @module
 */
import type { Migration } from "kysely/migration";
import * as m0001 from "./0001_initial.ts";
import * as m0002 from "./0002_fleet_indexes.ts";
import * as m0003 from "./0003_device_lifecycle.ts";
import * as m0004 from "./0004_fleet_operations.ts";
import * as m0005 from "./0005_broker_credentials.ts";

/** Every migration by name; names sort in the order they run. */
export const cloudMigrations: Record<string, Migration> = {
  "0001_initial": m0001,
  "0002_fleet_indexes": m0002,
  "0003_device_lifecycle": m0003,
  "0004_fleet_operations": m0004,
  "0005_broker_credentials": m0005,
};
