/**
 * The device list's counts, computed at most once per second per selector and id prefix (in this
 * process). Counting is a pass over every matching device (at 100,000 devices 20–50 ms of
 * database time), and every page of the list carries the counts: a console polling every few
 * seconds, or a client paging through the fleet, would otherwise count the whole fleet again for
 * each page. Concurrent requests for the same counts share one query.
 * @module
 */
import type { DeviceCounts, DeviceFilter } from "../store/device_query.ts";
import type { CloudStore } from "../store/store.ts";
import { formatSelector } from "./selector.ts";

/** How long counts are reused (ms). */
export const COUNTS_TTL_MS = 1000;
/** Distinct filters remembered at most. */
const MAX_ENTRIES = 256;

/** Options of {@link DeviceCountsCache}. */
export interface DeviceCountsCacheOptions {
  ttlMs?: number;
  now?: () => number;
}

/** Counts by filter, reused for {@link COUNTS_TTL_MS}. */
export class DeviceCountsCache {
  #store: Pick<CloudStore, "countDevices">;
  #ttlMs: number;
  #now: () => number;
  #entries = new Map<string, { at: number; counts: Promise<DeviceCounts> }>();

  constructor(store: Pick<CloudStore, "countDevices">, options: DeviceCountsCacheOptions = {}) {
    this.#store = store;
    this.#ttlMs = options.ttlMs ?? COUNTS_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The counts of the devices `filter`'s selector and prefix match (its state is ignored). */
  get(filter: DeviceFilter): Promise<DeviceCounts> {
    const counted = { selector: filter.selector, q: filter.q };
    const key = JSON.stringify([
      counted.selector ? formatSelector(counted.selector) : "",
      counted.q ?? "",
    ]);
    const now = this.#now();
    const hit = this.#entries.get(key);
    if (hit && now - hit.at < this.#ttlMs) return hit.counts;
    const counts = this.#store.countDevices(counted);
    // A failed count is not kept: the next request asks again.
    counts.catch(() => this.#entries.delete(key));
    this.#entries.delete(key);
    this.#entries.set(key, { at: now, counts });
    if (this.#entries.size > MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return counts;
  }
}
