/**
 * Opening the cloud database named by `DATABASE_URL` and bringing its schema up to date.
 * @module
 */
import { dirname } from "node:path";
import { ConfigError } from "../../agent/lib/settings.ts";
import { openSqlite, runMigrations, type SqliteHandle } from "../../agent/lib/sqlite.ts";
import type { DatabaseLocation } from "../config.ts";
import { cloudMigrations } from "./migrations/mod.ts";
import type { CloudDatabase } from "./schema.ts";
import { CloudStore } from "./store.ts";

/** An open cloud database: the store, the handle to close, and how to migrate it. */
export interface CloudDatabaseHandle {
  store: CloudStore;
  handle: Pick<SqliteHandle<CloudDatabase>, "db" | "close">;
  /** A description safe to log (no credentials). */
  describe: string;
  /** Runs pending migrations; returns the names applied now. */
  migrate(): Promise<string[]>;
}

/**
 * Opens the database without migrating it (the caller serves `/readyz` meanwhile).
 *
 * libSQL runs with `synchronous = FULL`: the cloud acks a batch right after its commit and the
 * device then deletes what was acked, so a commit lost to a power cut would lose data for good.
 * One fsync per batch (up to 1,000 records) is cheap against that.
 * @throws ConfigError for PostgreSQL, which this build does not support yet.
 */
export async function openCloudDatabase(location: DatabaseLocation): Promise<CloudDatabaseHandle> {
  if (location.kind === "postgres") {
    throw new ConfigError(
      "Cannot start cloud: DATABASE_URL selects PostgreSQL, which is not supported yet in this build; use a file: URL or a path for libSQL",
    );
  }
  await Deno.mkdir(dirname(location.path), { recursive: true });
  const handle = openSqlite<CloudDatabase>(location.path, { synchronous: "FULL" });
  return {
    store: new CloudStore(handle.db),
    handle,
    describe: `libsql:${location.path}`,
    migrate: () => runMigrations(handle.db, cloudMigrations),
  };
}

/** Opens and migrates the database: for tests and tools that need it ready at once. */
export async function openCloudStore(location: DatabaseLocation): Promise<CloudDatabaseHandle> {
  const opened = await openCloudDatabase(location);
  try {
    await opened.migrate();
    return opened;
  } catch (error) {
    await opened.handle.close();
    throw error;
  }
}
