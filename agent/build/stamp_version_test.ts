import assert from "node:assert/strict";
import { join } from "node:path";
import { stampVersion, VERSION_FILE, versionModule } from "./stamp_version.ts";
import { releaseVersion } from "./compile.ts";

Deno.test("a stamped version module exports exactly the given version", async () => {
  const root = await Deno.makeTempDir({ prefix: "outpost-stamp-" });
  try {
    await Deno.mkdir(join(root, "agent", "platform"), { recursive: true });
    await stampVersion(root, "0.2.0-rc.1+build.7");
    const module = await import(`file://${join(root, VERSION_FILE)}`);
    assert.equal(module.VERSION, "0.2.0-rc.1+build.7");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a version that is empty, too long or could break the module is refused", () => {
  for (const bad of ["", " 1.0", "1.0\n", '1.0";\nexport const x = "', "-1.0", "1".repeat(65)]) {
    assert.throws(() => versionModule(bad), /not a version/, JSON.stringify(bad));
  }
  assert.match(versionModule("1".repeat(64)), /VERSION = "1{64}"/);
  assert.match(versionModule("cb0368a-dirty"), /VERSION = "cb0368a-dirty"/);
});

Deno.test("the release version is OUTPOST_VERSION when set, git describe otherwise", async () => {
  const env = (values: Record<string, string>) => ({ get: (name: string) => values[name] });
  assert.equal(await releaseVersion(env({ OUTPOST_VERSION: "0.1.3" })), "0.1.3");
  // An image build's context has no .git: without OUTPOST_VERSION the version is unknown.
  const noGit = await Deno.makeTempDir({ prefix: "outpost-nogit-" });
  try {
    assert.equal(await releaseVersion(env({}), noGit), "0.0.0-unknown");
  } finally {
    await Deno.remove(noGit, { recursive: true });
  }
});
