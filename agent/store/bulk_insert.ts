/**
 * Multi-row inserts through cached prepared statements on the raw libSQL handle.
 *
 * Kysely compiles every query and the driver prepares it again each time; for a 10,000-row
 * batch that is 20 compiles and prepares of 1,000-row statements, more than the inserts
 * themselves. Here each statement shape is prepared once and reused: chunks of 512 rows, and a
 * remainder split into powers of two (at most ten shapes per table), so the cache stays small
 * whatever the batch sizes.
 *
 * Statements run on the connection Kysely uses, synchronously: called inside `transact()`,
 * they are part of that transaction and roll back with it.
 * @module
 */
import type Database from "libsql";

/** Rows per statement in full chunks: 512 × 6 columns stays far below SQLite's 32,766 params. */
export const BULK_CHUNK_ROWS = 512;

/** Splits `rows` into statement sizes: full chunks, then powers of two for the remainder. */
export function chunkSizes(rows: number, chunk = BULK_CHUNK_ROWS): number[] {
  const sizes: number[] = [];
  let left = rows;
  while (left >= chunk) {
    sizes.push(chunk);
    left -= chunk;
  }
  for (let size = chunk / 2; left > 0; size /= 2) {
    if (left >= size) {
      sizes.push(size);
      left -= size;
    }
  }
  return sizes;
}

/** Inserts rows into one table, values given flat in column order. */
export class BulkInserter {
  readonly #raw: Database.Database;
  readonly #prefix: string;
  readonly #row: string;
  readonly #columns: number;
  readonly #statements = new Map<number, Database.Statement>();

  constructor(raw: Database.Database, table: string, columns: readonly string[]) {
    this.#raw = raw;
    this.#columns = columns.length;
    this.#prefix = `INSERT INTO ${table} (${columns.join(", ")}) VALUES `;
    this.#row = `(${columns.map(() => "?").join(", ")})`;
  }

  /** Inserts `values.length / columns` rows. */
  insert(values: readonly unknown[]): void {
    if (values.length % this.#columns !== 0) {
      throw new Error(`BulkInserter: ${values.length} values is not a whole number of rows`);
    }
    let offset = 0;
    for (const size of chunkSizes(values.length / this.#columns)) {
      const end = offset + size * this.#columns;
      this.#statement(size).run(values.slice(offset, end));
      offset = end;
    }
  }

  #statement(rows: number): Database.Statement {
    let statement = this.#statements.get(rows);
    if (!statement) {
      statement = this.#raw.prepare(this.#prefix + Array(rows).fill(this.#row).join(", "));
      this.#statements.set(rows, statement);
    }
    return statement;
  }
}
