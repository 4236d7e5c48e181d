import assert from "node:assert/strict";
import {
  formatSelector,
  matchesSelector,
  MAX_REQUIREMENTS,
  parseSelector,
  type Requirement,
} from "./selector.ts";

function parsed(text: string): Requirement[] {
  const result = parseSelector(text);
  if (!result.ok) throw result.error;
  return result.selector.requirements;
}

function problem(text: string): { message: string; position: number } {
  const result = parseSelector(text);
  assert.ok(!result.ok, `'${text}' should not parse`);
  return { message: result.error.message, position: result.error.position };
}

Deno.test("the issue's example selector parses into its four requirements", () => {
  assert.deepEqual(parsed("site=berlin,role!=gateway,tier in (a,b),!decommissioned"), [
    { op: "eq", key: "site", value: "berlin" },
    { op: "neq", key: "role", value: "gateway" },
    { op: "in", key: "tier", values: ["a", "b"] },
    { op: "notexists", key: "decommissioned" },
  ]);
});

Deno.test("every operator and spacing form of Kubernetes selectors parses", () => {
  assert.deepEqual(parsed(""), []);
  assert.deepEqual(parsed("   "), []);
  assert.deepEqual(parsed("site"), [{ op: "exists", key: "site" }]);
  assert.deepEqual(parsed("site == berlin"), [{ op: "eq", key: "site", value: "berlin" }]);
  assert.deepEqual(parsed(" site = berlin , ! gpu "), [
    { op: "eq", key: "site", value: "berlin" },
    { op: "notexists", key: "gpu" },
  ]);
  assert.deepEqual(parsed("tier notin ( a , b, a )"), [
    { op: "notin", key: "tier", values: ["a", "b"] },
  ]);
  assert.deepEqual(parsed("example.com/zone=eu-1"), [
    { op: "eq", key: "example.com/zone", value: "eu-1" },
  ]);
  // An empty value is a value (`key=` matches the label present with "").
  assert.deepEqual(parsed("flag=,x in (,y)"), [
    { op: "eq", key: "flag", value: "" },
    { op: "in", key: "x", values: ["", "y"] },
  ]);
  // `in` as a key is just a key.
  assert.deepEqual(parsed("in=1"), [{ op: "eq", key: "in", value: "1" }]);
});

Deno.test("a malformed selector is refused with the position of the problem", () => {
  assert.deepEqual(problem("site=berlin,"), {
    message: "expected a requirement after ',' at position 12, found the end",
    position: 12,
  });
  assert.match(problem(",site").message, /expected a label key at position 0, found ','/);
  assert.match(problem("site berlin").message, /expected '=', '==', '!=', 'in', 'notin'/);
  assert.match(problem("tier in a,b").message, /expected '\(' at position 8/);
  assert.match(problem("tier in (a,b").message, /expected ',' or '\)' at position 12/);
  assert.match(problem("tier in (a b)").message, /expected ',' or '\)'/);
  assert.match(problem("a=b=c").message, /expected .,. or the end at position 3, found .=./);
  assert.match(problem("cpu>4").message, /unexpected character '>' at position 3 \(numeric/);
  assert.match(problem("site=ber lin").message, /expected ',' or the end/);
  assert.match(problem("site=Ber;lin").message, /unexpected character ';' at position 8/);
  assert.match(problem("-site=a").message, /label key '-site' at position 0 is invalid/);
  assert.match(problem("site=-a").message, /label value '-a' at position 5 is invalid/);
  assert.match(problem("!site=a").message, /expected ',' or the end at position 5/);
  assert.match(problem("!").message, /expected a label key at position 1, found the end/);
  assert.match(problem("x".repeat(2001)).message, /at most 2000 characters/);
  const many = Array.from({ length: MAX_REQUIREMENTS + 1 }, (_, i) => `k${i}`).join(",");
  assert.match(problem(many).message, /at most 20 requirements/);
});

Deno.test("matchesSelector follows Kubernetes: != and notin also match an absent label", () => {
  const devices: Record<string, Record<string, string>> = {
    a: { site: "berlin", role: "gateway" },
    b: { site: "berlin", role: "sensor", tier: "a" },
    c: { site: "paris", tier: "b" },
    d: { decommissioned: "" },
  };
  const match = (text: string) => {
    const result = parseSelector(text);
    assert.ok(result.ok);
    return Object.keys(devices).filter((id) => matchesSelector(result.selector, devices[id]));
  };
  assert.deepEqual(match(""), ["a", "b", "c", "d"]);
  assert.deepEqual(match("site=berlin"), ["a", "b"]);
  assert.deepEqual(match("role!=gateway"), ["b", "c", "d"]);
  assert.deepEqual(match("tier in (a,b)"), ["b", "c"]);
  assert.deepEqual(match("tier notin (a)"), ["a", "c", "d"]);
  assert.deepEqual(match("!decommissioned"), ["a", "b", "c"]);
  assert.deepEqual(match("decommissioned="), ["d"]);
  assert.deepEqual(match("site=berlin,role!=gateway,tier in (a,b),!decommissioned"), ["b"]);
});

Deno.test("formatSelector writes the canonical form, which parses back to the same", () => {
  const text = " site == berlin ,role!=gw, tier in (a, b),!x,y ";
  const first = parseSelector(text);
  assert.ok(first.ok);
  const canonical = formatSelector(first.selector);
  assert.equal(canonical, "site=berlin,role!=gw,tier in (a,b),!x,y");
  const again = parseSelector(canonical);
  assert.ok(again.ok);
  assert.deepEqual(again.selector.requirements, first.selector.requirements);
});
