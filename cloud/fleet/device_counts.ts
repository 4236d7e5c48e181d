/**
 * The device list's counts, computed at most about once a second per selector and id prefix (in
 * this process). Counting is a pass over every matching device (at 100,000 devices 20–50 ms of
 * database time), and every page of the list carries the counts: a console polling every few
 * seconds, or a client paging through the fleet, would otherwise count the whole fleet again for
 * each page.
 *
 * Counts younger than `ttlMs` are reused. Older ones, up to `maxStaleMs`, are answered at once
 * while one fresh count runs in the background (stale-while-revalidate: no request waits for a
 * recount); older still, or never counted, the request waits for the count. Concurrent requests
 * share one query.
 * @module
 */
import type { DeviceCounts, DeviceFilter } from "../store/device_query.ts";
import type { CloudStore } from "../store/store.ts";
import { formatSelector } from "./selector.ts";

/** How long counts are reused as they are (ms). */
export const COUNTS_TTL_MS = 1000;
/** How old counts may be answered while a fresh count runs (ms). */
export const COUNTS_MAX_STALE_MS = 10_000;
/** Distinct filters remembered at most. */
const MAX_ENTRIES = 256;

/** Options of {@link DeviceCountsCache}. */
export interface DeviceCountsCacheOptions {
  ttlMs?: number;
  maxStaleMs?: number;
  now?: () => number;
}

interface Entry {
  /** When the counts answered now were asked for. */
  at: number;
  counts: Promise<DeviceCounts>;
  /** A recount in flight. */
  refreshing?: Promise<void>;
}

/** Counts by filter (see the module's notes). */
export class DeviceCountsCache {
  #store: Pick<CloudStore, "countDevices">;
  #ttlMs: number;
  #maxStaleMs: number;
  #now: () => number;
  #entries = new Map<string, Entry>();

  constructor(store: Pick<CloudStore, "countDevices">, options: DeviceCountsCacheOptions = {}) {
    this.#store = store;
    this.#ttlMs = options.ttlMs ?? COUNTS_TTL_MS;
    this.#maxStaleMs = options.maxStaleMs ?? COUNTS_MAX_STALE_MS;
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
    const entry = this.#entries.get(key);
    if (entry && now - entry.at < this.#ttlMs) return entry.counts;
    if (entry && now - entry.at < this.#maxStaleMs) {
      entry.refreshing ??= this.#store.countDevices(counted).then((counts) => {
        this.#remember(key, { at: now, counts: Promise.resolve(counts) });
      }, () => {
        entry.refreshing = undefined; // the next request tries again
      });
      return entry.counts;
    }
    const counts = this.#store.countDevices(counted);
    // A failed count is not kept: the next request asks again.
    counts.catch(() => {
      if (this.#entries.get(key)?.counts === counts) this.#entries.delete(key);
    });
    this.#remember(key, { at: now, counts });
    return counts;
  }

  #remember(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }
}
