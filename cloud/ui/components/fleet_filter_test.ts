import assert from "node:assert/strict";
import { devicesApiUrl, fleetHref, isEmptyQuery, parseFleetQuery } from "./fleet_filter.ts";

Deno.test("parseFleetQuery trims the texts, caps them and ignores an unknown state", () => {
  assert.deepEqual(parseFleetQuery({}), { selector: "", q: "", state: "all" });
  assert.deepEqual(
    parseFleetQuery({ selector: " site=berlin ", q: " pi-", state: "lagging", cursor: "abc" }),
    { selector: "site=berlin", q: "pi-", state: "lagging", cursor: "abc" },
  );
  assert.equal(parseFleetQuery({ state: "sideways" }).state, "all");
  assert.equal(parseFleetQuery({ q: "x".repeat(500) }).q.length, 63);
  assert.ok(isEmptyQuery(parseFleetQuery({ q: " " })));
  assert.ok(!isEmptyQuery(parseFleetQuery({ state: "online" })));
});

Deno.test("links and the API URL carry the same query; overrides replace parts of it", () => {
  const query = parseFleetQuery({ selector: "tier in (a,b)", q: "pi", cursor: "c1" });
  assert.equal(fleetHref(query), "/?selector=tier+in+%28a%2Cb%29&q=pi&cursor=c1");
  assert.equal(
    fleetHref(query, { state: "online", cursor: undefined }),
    "/?selector=tier+in+%28a%2Cb%29&q=pi&state=online",
  );
  assert.equal(fleetHref(parseFleetQuery({})), "/");
  assert.equal(
    devicesApiUrl(query, 50),
    "/api/v1/devices?selector=tier+in+%28a%2Cb%29&q=pi&cursor=c1&limit=50",
  );
});
