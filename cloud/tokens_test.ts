import assert from "node:assert/strict";
import { ensureToken } from "./tokens.ts";
import { collectingLogger } from "./testing/fixtures.ts";

Deno.test("an unset token is generated once into a 0600 file and reused, never logged", async () => {
  const dir = await Deno.makeTempDir();
  const { logger, lines } = collectingLogger();
  try {
    const options = { given: undefined, dataDir: dir, file: "admin-token", setting: "X", logger };
    const first = await ensureToken(options);
    assert.match(first, /^[\w-]{43}$/);
    const info = await Deno.stat(`${dir}/admin-token`);
    assert.equal(info.mode! & 0o777, 0o600);
    assert.equal(await ensureToken(options), first);
    const logged = JSON.stringify(lines);
    assert.ok(!logged.includes(first), "the token must never be logged");
    assert.ok(logged.includes(`${dir}/admin-token`), "the file path is logged");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a given token wins and an unusable token file stops the start", async () => {
  const dir = await Deno.makeTempDir();
  const { logger } = collectingLogger();
  try {
    const given = "given-token-0123456789";
    const options = { dataDir: dir, file: "enroll-token", setting: "OUTPOST_ENROLL_TOKEN", logger };
    assert.equal(await ensureToken({ ...options, given }), given);
    await Deno.writeTextFile(`${dir}/enroll-token`, "short\n");
    await assert.rejects(
      ensureToken({ ...options, given: undefined }),
      /enroll-token must hold a token .*set OUTPOST_ENROLL_TOKEN or delete the file/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
