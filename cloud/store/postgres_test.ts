// Needs no PostgreSQL server: what happens when there is none. The store's behaviour on a real
// PostgreSQL is tested by tests/system/postgres_test.ts.
import assert from "node:assert/strict";
import { ConfigError } from "@outpost/platform/settings";
import { openCloudDatabase } from "./open.ts";
import { redactDatabaseUrl } from "./postgres.ts";

Deno.test("database URLs are logged without their password", () => {
  assert.equal(
    redactDatabaseUrl("postgres://outpost:s3cret@db.example:5432/outpost?sslmode=require"),
    "postgres://outpost:***@db.example:5432/outpost?sslmode=require",
  );
  assert.equal(
    redactDatabaseUrl("postgresql://db/outpost?user=a&password=s3cret"),
    "postgresql://db/outpost?user=a&password=***",
  );
  assert.equal(redactDatabaseUrl("postgres://db/outpost"), "postgres://db/outpost");
  assert.equal(redactDatabaseUrl("not a url s3cret"), "postgres://(unparsable URL)");
});

Deno.test("an unreachable PostgreSQL fails the start with one line naming DATABASE_URL and no password", async () => {
  // Nothing listens on a port we just closed.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const error = await openCloudDatabase({
    kind: "postgres",
    url: `postgres://outpost:s3cret-pw@127.0.0.1:${port}/outpost`,
  }).then(() => undefined, (error) => error);
  assert.ok(error instanceof ConfigError, String(error));
  assert.match(
    error.message,
    new RegExp(
      `^Cannot start cloud: DATABASE_URL: cannot connect to PostgreSQL at postgres://outpost:\\*\\*\\*@127\\.0\\.0\\.1:${port}/outpost: .*ECONNREFUSED`,
    ),
  );
  assert.doesNotMatch(error.message, /s3cret-pw/);
  assert.doesNotMatch(error.message, /\n/);
});
