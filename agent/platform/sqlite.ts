/**
 * Opening a SQLite file (libSQL engine) for Kysely, and running frozen migrations.
 *
 * We use the `libsql` package (the engine under `@libsql/client` for `file:` URLs) directly
 * with Kysely's built-in `SqliteDialect`: its synchronous API avoids a promise hop per
 * statement, and it spares us `@libsql/kysely-libsql`, which pins an older client.
 * @module
 */
import Database from "libsql";
import { Kysely, sql, SqliteDialect } from "kysely";
import { type Migration, Migrator } from "kysely/migration";

/** Options of {@link openSqlite}. */
export interface OpenSqliteOptions {
  /**
   * `FULL` (default) fsyncs the WAL at every commit, so a write that got a 2xx survives power
   * loss; `NORMAL` survives process crashes only.
   */
  synchronous?: "FULL" | "NORMAL";
  /** How long a statement waits for a lock held by another process, in ms. */
  busyTimeoutMs?: number;
}

/** An open database: the Kysely instance and the raw handle for pragmas. */
export interface SqliteHandle<T> {
  db: Kysely<T>;
  raw: Database.Database;
  path: string;
  close(): Promise<void>;
}

/** Opens (creating if needed) a SQLite file in WAL mode. */
export function openSqlite<T>(path: string, options: OpenSqliteOptions = {}): SqliteHandle<T> {
  const raw = new Database(path);
  // First, so the other pragmas wait out a lock too: a process restarted while the killed one
  // still exits (or a backup reads the file) died at start with "database is locked" (found by
  // the chaos suite).
  raw.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  raw.exec("PRAGMA journal_mode = WAL");
  raw.exec(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
  raw.exec("PRAGMA foreign_keys = ON");
  // deno-lint-ignore no-explicit-any
  const db = new Kysely<T>({ dialect: new SqliteDialect({ database: raw as any }) });
  let closed = false;
  return {
    db,
    raw,
    path,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy(); // closes `raw` too
    },
  };
}

/** A migration failed; the process must stop with its name. */
export class MigrationError extends Error {
  readonly migration: string;
  constructor(migration: string, cause: unknown) {
    super(
      `Migration '${migration}' failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = "MigrationError";
    this.migration = migration;
  }
}

/**
 * Runs every pending migration of a static set, in name order.
 * @returns the names of the migrations applied now.
 * @throws MigrationError naming the failed migration.
 */
export async function runMigrations(
  // deno-lint-ignore no-explicit-any
  db: Kysely<any>,
  migrations: Record<string, Migration>,
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === "Error")?.migrationName ??
      "(migration table)";
    throw new MigrationError(failed, error);
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Reads a single-valued pragma such as `journal_mode` or `page_count`. */
export function pragmaValue(raw: Database.Database, name: string): unknown {
  const row = raw.prepare(`PRAGMA ${name}`).get() as Record<string, unknown> | undefined;
  return row?.[name];
}

/**
 * Runs `fn` in one write transaction (`BEGIN IMMEDIATE`) on the single connection.
 *
 * Unlike Kysely's `transaction()`, the error that failed the transaction is the one thrown:
 * SQLite rolls back by itself on SQLITE_FULL and I/O errors, and Kysely's follow-up ROLLBACK
 * then fails with "no transaction is active", hiding the disk-full error we must report as 507.
 */
export async function transact<DB, T>(
  db: Kysely<DB>,
  fn: (tx: Kysely<DB>) => Promise<T>,
): Promise<T> {
  return await db.connection().execute(async (connection) => {
    await sql`BEGIN IMMEDIATE`.execute(connection);
    let result: T;
    try {
      result = await fn(connection);
      await sql`COMMIT`.execute(connection);
    } catch (error) {
      try {
        await sql`ROLLBACK`.execute(connection);
      } catch {
        // SQLite already rolled back (disk full, I/O error): keep the original error.
      }
      throw error;
    }
    return result;
  });
}
