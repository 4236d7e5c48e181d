import assert from "node:assert/strict";
import Database from "libsql";
import { openSqlite } from "./sqlite.ts";

Deno.test("openSqlite waits out a lock another process holds instead of failing at start", async () => {
  // Regression (chaos suite): a cloud restarted while the killed one was still exiting, or while
  // any other process held the file, died at once with "database is locked": the first pragma
  // ran before busy_timeout was set.
  const dir = await Deno.makeTempDir({ prefix: "outpost-sqlite-" });
  const path = `${dir}/test.db`;
  const setup = new Database(path);
  setup.exec("PRAGMA journal_mode = DELETE; CREATE TABLE t (x INTEGER)");
  setup.close();
  // Another process takes the file's exclusive lock for a moment.
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import Database from "libsql";
       const db = new Database(${JSON.stringify(path)});
       db.exec("BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)");
       console.log("locked");
       setTimeout(() => { db.exec("COMMIT"); db.close(); }, 700);`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /locked/);
  try {
    const handle = openSqlite(path, { busyTimeoutMs: 5000 });
    await handle.close();
  } finally {
    reader.releaseLock();
    await holder.stdout.cancel();
    await holder.status;
    await Deno.remove(dir, { recursive: true });
  }
});
