import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { buildClientAssets, hashedName, MANIFEST_FILE, parseEntries } from "./build.ts";

Deno.test("hashedName puts 12 hex digits of the content's SHA-256 before the extension", () => {
  const content = new TextEncoder().encode("body { color: red }");
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 12);
  assert.equal(hashedName("app.css", content), `app.${hash}.css`);
  assert.notEqual(hashedName("app.css", new TextEncoder().encode("x")), `app.${hash}.css`);
});

Deno.test("buildClientAssets writes hashed bundle and stylesheet plus a manifest, and prunes old files", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "outpost-build-" });
  try {
    await Deno.writeTextFile(join(outDir, "sample.000000000000.js"), "stale");
    const entries = { "sample.js": join(import.meta.dirname!, "testing", "sample_client.ts") };
    const manifest = await buildClientAssets({ entries, outDir });
    assert.deepEqual(Object.keys(manifest).sort(), ["app.css", "sample.js"]);
    assert.match(manifest["sample.js"], /^sample\.[0-9a-f]{12}\.js$/);
    assert.match(manifest["app.css"], /^app\.[0-9a-f]{12}\.css$/);
    const written = JSON.parse(await Deno.readTextFile(join(outDir, MANIFEST_FILE)));
    assert.deepEqual(written, manifest);
    const bundle = await Deno.readFile(join(outDir, manifest["sample.js"]));
    assert.equal(hashedName("sample.js", bundle), manifest["sample.js"]);
    const code = new TextDecoder().decode(bundle);
    assert.ok(code.includes("outpost-island"), "the bundle holds the hydration code");
    assert.ok(!/\bimport\s*[{*]|from\s*["']npm:/.test(code), "the bundle must be self-contained");
    const files = [...Deno.readDirSync(outDir)].map((entry) => entry.name).sort();
    assert.deepEqual(files, [MANIFEST_FILE, ...Object.values(manifest)].sort());
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("parseEntries resolves NAME.js=PATH against the repository and rejects anything else", () => {
  const entries = parseEntries(["agent.js=agent/ui/client.ts"]);
  assert.equal(entries["agent.js"], join(import.meta.dirname!, "..", "agent", "ui", "client.ts"));
  assert.throws(() => parseEntries(["agent/ui/client.ts"]), /--entry must be NAME\.js=PATH/);
});
