import assert from "node:assert/strict";
import type { DeviceFilter } from "../store/device_query.ts";
import { DeviceCountsCache } from "./device_counts.ts";
import { parseSelector } from "./selector.ts";

function fakeStore() {
  const calls: DeviceFilter[] = [];
  let total = 0;
  return {
    calls,
    store: {
      countDevices(filter: DeviceFilter) {
        calls.push(filter);
        total++;
        return Promise.resolve({ total, online: 0, offline: total, lagging: 0 });
      },
    },
  };
}

function selector(text: string) {
  const parsed = parseSelector(text);
  if (!parsed.ok) throw parsed.error;
  return parsed.selector;
}

Deno.test("counts are reused for a second per selector and prefix, and shared while in flight", async () => {
  let now = 1000;
  const { store, calls } = fakeStore();
  const cache = new DeviceCountsCache(store, { now: () => now });
  const [a, b] = await Promise.all([
    cache.get({ selector: selector("site=a") }),
    cache.get({ selector: selector(" site == a "), state: "online" }),
  ]);
  assert.equal(a, b, "the same selector written another way and another state share the count");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].state, undefined, "the state is not counted by");
  await cache.get({ selector: selector("site=b") });
  await cache.get({ selector: selector("site=a"), q: "pi" });
  assert.equal(calls.length, 3);
  now += 999;
  assert.equal((await cache.get({ selector: selector("site=a") })).total, 1);
  now += 1;
  assert.equal((await cache.get({ selector: selector("site=a") })).total, 4, "counted again");
});

Deno.test("a failed count is not kept", async () => {
  let fail = true;
  const cache = new DeviceCountsCache({
    countDevices: () =>
      fail
        ? Promise.reject(new Error("db down"))
        : Promise.resolve({ total: 1, online: 1, offline: 0, lagging: 0 }),
  });
  await assert.rejects(cache.get({}), /db down/);
  fail = false;
  assert.equal((await cache.get({})).total, 1);
});
