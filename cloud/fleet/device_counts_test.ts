import assert from "node:assert/strict";
import type { DeviceCounts, DeviceFilter } from "../store/device_query.ts";
import { DeviceCountsCache } from "./device_counts.ts";
import { parseSelector } from "./selector.ts";

/** A store whose n-th count answers total n, when `release()` lets it. */
function fakeStore() {
  const calls: DeviceFilter[] = [];
  const waiting: (() => void)[] = [];
  return {
    calls,
    release: () => waiting.splice(0).forEach((go) => go()),
    store: {
      countDevices(filter: DeviceFilter): Promise<DeviceCounts> {
        calls.push(filter);
        const total = calls.length;
        return new Promise((resolve) =>
          waiting.push(() => resolve({ total, online: 0, offline: total, lagging: 0 }))
        );
      },
    },
  };
}

function selector(text: string) {
  const parsed = parseSelector(text);
  if (!parsed.ok) throw parsed.error;
  return parsed.selector;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("counts are shared per selector and prefix, reused for a second, then recounted behind a stale answer", async () => {
  let now = 1000;
  const fake = fakeStore();
  const cache = new DeviceCountsCache(fake.store, { now: () => now });
  const a = cache.get({ selector: selector("site=a") });
  const b = cache.get({ selector: selector(" site == a "), state: "online" });
  fake.release();
  assert.equal(await a, await b, "the same selector written another way and another state share");
  assert.equal(fake.calls.length, 1);
  assert.equal(fake.calls[0].state, undefined, "the state is not counted by");
  const other = cache.get({ selector: selector("site=a"), q: "pi" });
  fake.release();
  assert.equal((await other).total, 2, "another prefix is another count");

  now += 999;
  assert.equal((await cache.get({ selector: selector("site=a") })).total, 1, "fresh");
  now += 1;
  // Stale: answered at once with the old counts while one recount runs.
  assert.equal((await cache.get({ selector: selector("site=a") })).total, 1);
  assert.equal((await cache.get({ selector: selector("site=a") })).total, 1);
  assert.equal(fake.calls.length, 3, "one recount for both");
  fake.release();
  await settle();
  assert.equal((await cache.get({ selector: selector("site=a") })).total, 3, "the recount");

  // Too old to answer: the request waits for a new count.
  now += 10_000;
  const late = cache.get({ selector: selector("site=a") });
  fake.release();
  assert.equal((await late).total, 4);
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
