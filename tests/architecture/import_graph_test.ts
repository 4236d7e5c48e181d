import assert from "node:assert/strict";
import {
  checkImportGraph,
  findCycles,
  type Member,
  readMembers,
  readModules,
  scanImports,
} from "./import_graph.ts";

const MEMBERS: Member[] = [
  { dir: "agent/platform", name: "@outpost/platform", layer: 0, exports: { "./log": "./log.ts" } },
  { dir: "web", name: "@outpost/web", layer: 2, exports: { "./render": "./render.ts" } },
  { dir: "agent", name: "@outpost/agent", layer: 3, exports: { ".": "./agent.ts" } },
  { dir: "cloud", name: "@outpost/cloud", layer: 3, exports: { ".": "./cloud.ts" } },
  { dir: "tests", name: "@outpost/tests", layer: 4, exports: {} },
];

function rules(modules: Record<string, string>): string[] {
  return checkImportGraph(new Map(Object.entries(modules)), MEMBERS).map((v) => v.rule);
}

Deno.test("scanImports finds static, type, re-export and dynamic imports but not ones in comments", () => {
  const source = `
import { a } from "./a.ts";
import type { B } from "@outpost/platform/log";
export { c } from "../c.ts";
export * from "./d.ts";
import "./side.ts";
const e = await import("./e.ts");
// import { f } from "./f.ts";
/** \`\`\`ts
 * import { g } from "./g.ts";
 * \`\`\` */
const text = "import { h } from './h.ts'";
`;
  const specifiers = scanImports(source).map((found) => found.specifier);
  assert.deepEqual(specifiers, [
    "./a.ts",
    "@outpost/platform/log",
    "../c.ts",
    "./d.ts",
    "./side.ts",
    "./e.ts",
  ]);
  assert.equal(scanImports(source)[0].line, 2);
});

Deno.test("a relative import into another member is a violation; the same import by name is not", () => {
  assert.deepEqual(rules({ "web/render.ts": `import "../agent/platform/log.ts";` }), [
    "relative-cross-member",
  ]);
  assert.deepEqual(
    rules({ "web/render.ts": `import "@outpost/platform/log";`, "agent/platform/log.ts": "" }),
    [],
  );
});

Deno.test("imports must point down: the kit cannot import a component, components not each other", () => {
  assert.deepEqual(rules({ "web/render.ts": `import "@outpost/agent";`, "agent/agent.ts": "" }), [
    "layer",
  ]);
  assert.deepEqual(rules({ "cloud/cloud.ts": `import "@outpost/agent";`, "agent/agent.ts": "" }), [
    "layer",
  ]);
  assert.deepEqual(rules({ "agent/agent.ts": `import "@outpost/web/render";` }), []);
  // Tests sit on top: they may import anything through exports.
  assert.deepEqual(rules({ "tests/x_test.ts": `import "@outpost/cloud";` }), []);
});

Deno.test("an import of something a member does not export is a violation", () => {
  assert.deepEqual(rules({ "agent/agent.ts": `import "@outpost/web/session";` }), [
    "unknown-export",
  ]);
});

Deno.test("product code may not import test code; tests and testing/ may", () => {
  assert.deepEqual(rules({ "cloud/cloud.ts": `import "./testing/fixtures.ts";` }), [
    "testing-in-product",
  ]);
  assert.deepEqual(rules({ "cloud/cloud.ts": `import "./cloud_test.ts";` }), [
    "testing-in-product",
  ]);
  assert.deepEqual(
    rules({
      "cloud/store_test.ts": `import "./testing/fixtures.ts";`,
      "cloud/testing/fixtures.ts": `import "../cloud.ts";`,
      "cloud/cloud.ts": "",
    }),
    [],
  );
});

Deno.test("a cycle is reported with a concrete path; a diamond is not a cycle", () => {
  const violations = checkImportGraph(
    new Map(Object.entries({
      "agent/a.ts": `import "./b.ts";`,
      "agent/b.ts": `import "./c.ts";`,
      "agent/c.ts": `import "./a.ts";`,
    })),
    MEMBERS,
  );
  assert.equal(violations.length, 1);
  assert.equal(violations[0].rule, "cycle");
  assert.match(violations[0].message, /agent\/a\.ts → agent\/b\.ts → agent\/c\.ts → agent\/a\.ts/);
  const diamond = new Map([["a", ["b", "c"]], ["b", ["d"]], ["c", ["d"]], ["d", []]]);
  assert.deepEqual(findCycles(diamond), []);
  assert.deepEqual(findCycles(new Map([["a", ["a"]]])), [["a"]]);
});

Deno.test("the repository itself keeps every rule", async () => {
  const root = new URL("../..", import.meta.url).pathname;
  const members = await readMembers(root);
  assert.deepEqual(members.map((member) => member.name).sort(), [
    "@outpost/agent",
    "@outpost/cloud",
    "@outpost/platform",
    "@outpost/protocol",
    "@outpost/tests",
    "@outpost/web",
  ]);
  const violations = checkImportGraph(await readModules(root, members), members);
  assert.deepEqual(violations.map((violation) => violation.message), []);
});
