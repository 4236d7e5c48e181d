/**
 * Opening the cloud database named by `DATABASE_URL` (a libSQL file or PostgreSQL) and
 * bringing its schema up to date. Both dialects run the same frozen migrations.
 * @module
 */
import { dirname } from "node:path";
import type { Kysely } from "kysely";
import type { Logger } from "@outpost/platform/log";
import { openSqlite, runMigrations } from "@outpost/platform/sqlite";
import { type DatabaseLocation, DEFAULT_DB_POOL_SIZE } from "../config.ts";
import type { StoreDialect } from "./dialect.ts";
import { cloudMigrations } from "./migrations/mod.ts";
import { openPostgres } from "./postgres.ts";
import type { CloudDatabase } from "./schema.ts";
import { CloudStore } from "./store.ts";

/** An open cloud database: the store, the handle to close, and how to migrate it. */
export interface CloudDatabaseHandle {
  store: CloudStore;
  /** The Kysely instance and how to close it (for libSQL also `raw`, the driver handle). */
  handle: { db: Kysely<CloudDatabase>; close(): Promise<void> };
  dialect: StoreDialect;
  /** A description safe to log (no credentials). */
  describe: string;
  /** Runs pending migrations; returns the names applied now. */
  migrate(): Promise<string[]>;
}

/** Options of {@link openCloudDatabase}. */
export interface OpenCloudDatabaseOptions {
  /** PostgreSQL: connections of this process's pool (`OUTPOST_DB_POOL_SIZE`). */
  poolSize?: number;
  /** PostgreSQL: where errors of idle connections are logged. */
  logger?: Logger;
}

/**
 * Opens the database without migrating it (the caller serves `/readyz` meanwhile).
 *
 * libSQL runs with `synchronous = FULL`: the cloud acks a batch right after its commit and the
 * device then deletes what was acked, so a commit lost to a power cut would lose data for good.
 * One fsync per batch (up to 1,000 records) is cheap against that. PostgreSQL's defaults
 * (`fsync`, `synchronous_commit = on`) give the same guarantee.
 *
 * PostgreSQL is connected to at once, so an unreachable server fails the start.
 * @throws ConfigError naming DATABASE_URL when PostgreSQL cannot be reached.
 */
export async function openCloudDatabase(
  location: DatabaseLocation,
  options: OpenCloudDatabaseOptions = {},
): Promise<CloudDatabaseHandle> {
  if (location.kind === "postgres") {
    const handle = await openPostgres(location.url, options);
    return {
      store: new CloudStore(handle.db, { dialect: "postgres" }),
      handle,
      dialect: "postgres",
      describe: `${handle.describe} (pool of ${options.poolSize ?? DEFAULT_DB_POOL_SIZE})`,
      // Kysely's migrator takes a PostgreSQL advisory lock: replicas starting together take turns.
      migrate: () => runMigrations(handle.db, cloudMigrations),
    };
  }
  await Deno.mkdir(dirname(location.path), { recursive: true });
  const handle = openSqlite<CloudDatabase>(location.path, { synchronous: "FULL" });
  return {
    store: new CloudStore(handle.db, { dialect: "sqlite" }),
    handle,
    dialect: "sqlite",
    describe: `libsql:${location.path}`,
    migrate: () => runMigrations(handle.db, cloudMigrations),
  };
}

/** Opens and migrates the database: for tests and tools that need it ready at once. */
export async function openCloudStore(
  location: DatabaseLocation,
  options: OpenCloudDatabaseOptions = {},
): Promise<CloudDatabaseHandle> {
  const opened = await openCloudDatabase(location, options);
  try {
    await opened.migrate();
    return opened;
  } catch (error) {
    await opened.handle.close();
    throw error;
  }
}
