/**
 * The ingest baseline: a bare `Deno.serve` that parses a JSON array of readings and inserts the
 * same rows the agent writes — each reading and its outbox record — in one transaction through
 * cached multi-row prepared statements on a libSQL file in WAL mode with `synchronous=FULL`, as
 * the agent's store does. No validation, routing, middleware or metrics: the limit for
 * `POST /api/v1/readings` on this machine.
 *
 * Usage: deno run --allow-net --allow-read --allow-write --allow-ffi --allow-env \
 *   tests/bench/raw_ingest_server.ts PORT DB_FILE
 * @module
 */
import Database from "libsql";

const [port, file] = Deno.args;
const db = new Database(file);
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = FULL");
db.exec(`CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL)`);
db.exec(`CREATE TABLE IF NOT EXISTS readings (seq INTEGER PRIMARY KEY, sensor TEXT NOT NULL,
  value REAL NOT NULL, unit TEXT NOT NULL DEFAULT '', ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL)`);
db.exec("CREATE INDEX IF NOT EXISTS readings_sensor_ts ON readings (sensor, ts)");
db.exec("CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts)");

const statements = new Map<string, Database.Statement>();
function insert(table: string, columns: number, values: unknown[]): void {
  const rows = values.length / columns;
  const key = `${table}:${rows}`;
  let statement = statements.get(key);
  if (!statement) {
    const row = `(${Array(columns).fill("?").join(",")})`;
    statement = db.prepare(`INSERT INTO ${table} VALUES ${Array(rows).fill(row).join(",")}`);
    statements.set(key, statement);
  }
  statement.run(values);
}
let seq = 0;

Deno.serve(
  { port: Number(port), hostname: "127.0.0.1", onListen: () => console.log("listening") },
  async (request) => {
    const readings = await request.json() as { sensor: string; value: number; unit?: string }[];
    const now = Date.now();
    const iso = new Date(now).toISOString();
    const outbox: unknown[] = [];
    const rows: unknown[] = [];
    for (const reading of readings) {
      seq++;
      const unit = reading.unit ?? "";
      const payload = JSON.stringify({
        type: "reading",
        sensor: reading.sensor,
        value: reading.value,
        unit,
        ts: iso,
      });
      outbox.push(seq, "reading", payload, now);
      rows.push(seq, reading.sensor, reading.value, unit, now, now);
    }
    db.exec("BEGIN IMMEDIATE");
    try {
      // Statements of up to 512 rows, as the agent's bulk inserter uses.
      for (let i = 0; i < readings.length; i += 512) {
        const n = Math.min(512, readings.length - i);
        insert("outbox", 4, outbox.slice(i * 4, (i + n) * 4));
        insert("readings", 6, rows.slice(i * 6, (i + n) * 6));
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return Response.json({ accepted: readings.length, lastSeq: seq }, { status: 201 });
  },
);
