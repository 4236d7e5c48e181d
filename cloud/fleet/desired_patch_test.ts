import assert from "node:assert/strict";
import { jsonEqual, mergePatch, planPatch, planRestore, putOverRollouts } from "./desired_patch.ts";

Deno.test("mergePatch follows the examples of RFC 7396", () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) {
    assert.deepEqual(mergePatch(target, patch), expected, JSON.stringify({ target, patch }));
  }
  const target = { a: { b: 1 } };
  mergePatch(target, { a: { b: 2 } });
  assert.deepEqual(target, { a: { b: 1 } }, "the target is not modified");
});

Deno.test("jsonEqual ignores key order and tells arrays from objects", () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!jsonEqual([1], { 0: 1 }));
  assert.ok(!jsonEqual(null, {}));
});

Deno.test("planPatch records the top-level keys it changes and leaves pinned keys alone", () => {
  const desired = { logLevel: "info", retentionDays: 30, nested: { a: 1, b: 2 } };
  const plan = planPatch(desired, {
    logLevel: "debug",
    retentionDays: 30,
    nested: { b: null },
    added: true,
    gone: null,
  });
  assert.deepEqual(plan.desired, {
    logLevel: "debug",
    retentionDays: 30,
    nested: { a: 1 },
    added: true,
  });
  assert.deepEqual(plan.changes, [
    { key: "logLevel", before: "info", after: "debug" },
    { key: "nested", before: { a: 1, b: 2 }, after: { a: 1 } },
    { key: "added", after: true },
  ]);
  const pinned = planPatch(desired, { logLevel: "debug", added: true }, new Set(["logLevel"]));
  assert.equal(pinned.desired.logLevel, "info");
  assert.deepEqual(pinned.changes, [{ key: "added", after: true }]);
  assert.deepEqual(planPatch(desired, { logLevel: "info" }).changes, []);
});

Deno.test("planRestore undoes only the keys that still hold the rollout's value", () => {
  const before = { logLevel: "info", keep: 1 };
  const rolled = planPatch(before, { logLevel: "debug", added: "x", keep: null });
  assert.deepEqual(rolled.desired, { logLevel: "debug", added: "x" });
  assert.deepEqual(planRestore(rolled.desired, rolled.changes).desired, before);
  // A per-device PUT changed logLevel meanwhile: that key stays; the others are restored.
  const edited = { ...rolled.desired, logLevel: "warn" };
  const restore = planRestore(edited, rolled.changes);
  assert.deepEqual(restore.desired, { logLevel: "warn", keep: 1 });
  assert.deepEqual(restore.changes.map((c) => c.key), ["added", "keep"]);
  assert.deepEqual(planRestore(before, rolled.changes).changes, [], "nothing left to undo");
});

Deno.test("a PUT over running rollouts wins for its keys; the rollouts keep theirs", () => {
  const first = [{ key: "logLevel", before: "info", after: "debug" }, { key: "x", after: 1 }];
  const second = [{ key: "x", before: 1, after: 2 }, { key: "gone", before: true }];
  assert.deepEqual(
    putOverRollouts({ logLevel: "warn", retentionDays: 7, gone: false }, [first, second]),
    { logLevel: "warn", retentionDays: 7, gone: false, x: 2 },
  );
  assert.deepEqual(putOverRollouts({ a: 1 }, []), { a: 1 });
});
