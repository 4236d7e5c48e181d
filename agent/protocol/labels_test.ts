import assert from "node:assert/strict";
import { EnrollRequest } from "./messages.ts";
import { isLabelKey, isLabelValue, Labels, MAX_LABELS, parseLabelList } from "./labels.ts";

Deno.test("label keys follow Kubernetes syntax: optional DNS prefix, 63-character name", () => {
  for (const key of ["site", "a", "role.v2", "tier_1", "example.com/site", "a-b.c/x-y", "A9"]) {
    assert.ok(isLabelKey(key), key);
  }
  for (
    const key of [
      "",
      "-site",
      "site-",
      "si te",
      "x".repeat(64),
      "/site",
      "Example.com/site",
      "example..com/site",
      "a/b/c",
      `${"a".repeat(254)}/x`,
      "site!",
    ]
  ) {
    assert.ok(!isLabelKey(key), key);
  }
});

Deno.test("label values are empty or a 63-character name", () => {
  for (const value of ["", "berlin", "v1.2.3", "A_b-c", "x".repeat(63)]) {
    assert.ok(isLabelValue(value), value);
  }
  for (const value of ["x".repeat(64), "-a", "a-", "with space", "a/b", "ü"]) {
    assert.ok(!isLabelValue(value), value);
  }
});

Deno.test("the Labels schema names the bad key or value in the issue path and message", () => {
  const result = Labels.safeParse({ site: "berlin", "bad key": "x", role: "-gw" });
  assert.ok(!result.success);
  const issues = result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  assert.deepEqual(issues.map((i) => i.path), ["bad key", "role"]);
  assert.match(issues[0].message, /label key 'bad key' is invalid/);
  assert.match(issues[1].message, /label value '-gw' of 'role' is invalid/);
  const many = Object.fromEntries(Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`k${i}`, ""]));
  assert.ok(!Labels.safeParse(many).success);
});

Deno.test("enrollment refuses a bad label with a path naming it", () => {
  const result = EnrollRequest.safeParse({ deviceId: "pi", token: "t", labels: { "x y": "1" } });
  assert.ok(!result.success);
  assert.deepEqual(result.error.issues[0].path, ["labels", "x y"]);
});

Deno.test("parseLabelList reads k=v,k2=v2 and names the first bad item", () => {
  assert.deepEqual(parseLabelList("site=berlin, role=gateway,empty="), {
    site: "berlin",
    role: "gateway",
    empty: "",
  });
  assert.deepEqual(parseLabelList(""), {});
  assert.deepEqual(parseLabelList(" , "), {});
  assert.throws(() => parseLabelList("site"), /'site' is not key=value/);
  assert.throws(() => parseLabelList("site=a b"), /label value 'a b' of 'site' is invalid/);
  assert.throws(() => parseLabelList("-x=1"), /label key '-x' is invalid/);
  assert.throws(() => parseLabelList("a=1,a=2"), /'a' is given twice/);
});
