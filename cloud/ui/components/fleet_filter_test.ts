import assert from "node:assert/strict";
import { isEmptyFilter, matchesFleetFilter, parseFleetFilter } from "./fleet_filter.ts";

const PI = { id: "edge-pi-07", online: true, labels: { site: "north", role: "pump" } };
const JETSON = { id: "jetson-02", online: false, labels: { site: "South" } };

Deno.test("parseFleetFilter trims the text and ignores an unknown status", () => {
  assert.deepEqual(parseFleetFilter({}), { q: "", status: "all" });
  assert.deepEqual(parseFleetFilter({ q: "  pi ", status: "online" }), {
    q: "pi",
    status: "online",
  });
  assert.deepEqual(parseFleetFilter({ status: "sideways" }), { q: "", status: "all" });
  assert.equal(parseFleetFilter({ q: "x".repeat(500) }).q.length, 100);
  assert.ok(isEmptyFilter(parseFleetFilter({ q: " " })));
});

Deno.test("matchesFleetFilter matches ids and key=value labels without case, and presence", () => {
  const match = (q: string, status = "all") =>
    [PI, JETSON].filter((d) => matchesFleetFilter(d, parseFleetFilter({ q, status }))).map((d) =>
      d.id
    );
  assert.deepEqual(match(""), ["edge-pi-07", "jetson-02"]);
  assert.deepEqual(match("PI-0"), ["edge-pi-07"]);
  assert.deepEqual(match("site=south"), ["jetson-02"]);
  assert.deepEqual(match("pump"), ["edge-pi-07"]);
  assert.deepEqual(match("", "online"), ["edge-pi-07"]);
  assert.deepEqual(match("", "offline"), ["jetson-02"]);
  assert.deepEqual(match("site", "offline"), ["jetson-02"]);
  assert.deepEqual(match("nothing-like-this"), []);
});
