/**
 * Opening the cloud database on PostgreSQL: a `pg` pool under Kysely's `PostgresDialect`,
 * `bigint` results as numbers, and a connection check at start that fails with one line
 * naming `DATABASE_URL` (password redacted).
 * @module
 */
import { Kysely, PostgresDialect, type PostgresPool } from "kysely";
import pg from "pg";
import type { Logger } from "@outpost/platform/log";
import { ConfigError } from "@outpost/platform/settings";
import { DEFAULT_DB_POOL_SIZE } from "../config.ts";
import type { CloudDatabase } from "./schema.ts";

/** How long the connection check at start may take before the start fails, in ms. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long a query may wait for a pooled connection (queued behind busy ones, or a new one
 * being opened) before it fails, in ms: long enough for bursts, short enough that a database
 * gone away turns into errors rather than requests hanging forever.
 */
export const ACQUIRE_TIMEOUT_MS = 60_000;

/** PostgreSQL's type OID of `bigint` (int8), which `pg` returns as a string by default. */
const INT8_OID = 20;

/** Options of {@link openPostgres}. */
export interface OpenPostgresOptions {
  /** Maximum connections of the pool (default {@link DEFAULT_DB_POOL_SIZE}). */
  poolSize?: number;
  /** Timeout of the connection check at start in ms (default {@link CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  /** How long a query waits for a connection in ms (default {@link ACQUIRE_TIMEOUT_MS}). */
  acquireTimeoutMs?: number;
  /** Where errors of idle pooled connections go (a restarted server, a dropped link). */
  logger?: Logger;
}

/** An open PostgreSQL database. */
export interface PostgresHandle {
  db: Kysely<CloudDatabase>;
  /** The URL without its password, for logs. */
  describe: string;
  close(): Promise<void>;
}

/** The subset of `pg.Pool` used here (the `pg` package ships no types). */
interface PgPool extends PostgresPool {
  on(event: "error", listener: (error: Error) => void): unknown;
  /** True once `end()` was called. */
  ending: boolean;
}

/** The subset of `pg.Client` used here. */
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

/**
 * `url` with its password (and a `password` query parameter) replaced by `***`; unparsable
 * input becomes `postgres://(unparsable URL)` so nothing secret is ever echoed.
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "postgres://(unparsable URL)";
  }
  if (parsed.password) parsed.password = "***";
  if (parsed.searchParams.has("password")) parsed.searchParams.set("password", "***");
  return parsed.toString();
}

/**
 * `pg` parses `bigint` as a string to keep precision; every bigint here (seqs, ms times, row
 * counts) stays below 2^53, so numbers are exact and spare every reader a conversion.
 */
const types = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === INT8_OID && format !== "binary") return (value) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** The message of a connection error: `pg` and `node:net` sometimes leave `message` empty. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = (error as Error & { errors?: unknown[] }).errors?.[0];
  const code = (error as Error & { code?: string }).code;
  return error.message || (inner instanceof Error ? inner.message : "") || code ||
    error.name;
}

/**
 * Connects once: a bad URL, password or database, or an unreachable server, fails here.
 * @throws ConfigError naming DATABASE_URL (password redacted).
 */
async function checkConnection(url: string, describe: string, timeoutMs: number): Promise<void> {
  let client: PgClient | undefined;
  try {
    // Inside the try: `pg` reads files named by the URL (sslrootcert, …) in the constructor.
    client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: timeoutMs,
      application_name: "outpost-cloud",
    }) as PgClient;
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    const password = safePassword(url);
    let reason = describeError(error);
    if (password) reason = reason.replaceAll(password, "***");
    throw new ConfigError(
      `Cannot start cloud: DATABASE_URL: cannot connect to PostgreSQL at ${describe}: ${reason}`,
    );
  } finally {
    await client?.end().catch(() => {});
  }
}

/**
 * Checks that the server answers, then opens a pool on `url`.
 * @throws ConfigError naming DATABASE_URL (password redacted) when it cannot connect.
 */
export async function openPostgres(
  url: string,
  options: OpenPostgresOptions = {},
): Promise<PostgresHandle> {
  const describe = redactDatabaseUrl(url);
  await checkConnection(url, describe, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
  const pool: PgPool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? DEFAULT_DB_POOL_SIZE,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? ACQUIRE_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: "outpost-cloud",
    types,
  });
  // Without a listener, an idle connection's error (server restart) would end the process.
  pool.on("error", (error) => {
    options.logger?.warn("PostgreSQL connection lost; the pool opens a new one when needed", {
      database: describe,
      error: describeError(error),
    });
  });
  const db = new Kysely<CloudDatabase>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  return {
    db,
    describe,
    async close() {
      if (closed) return;
      closed = true;
      // Kysely ends the pool only if it ran a query through it.
      await db.destroy();
      if (!pool.ending) await pool.end();
    },
  };
}

function safePassword(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
