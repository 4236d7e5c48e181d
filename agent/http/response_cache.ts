/**
 * A small cache of serialized GET responses, valid for one store generation. Dashboards poll
 * the same queries between writes; serving those from memory skips SQLite and JSON encoding.
 * @module
 */

/** Caches response bodies by key for as long as the data generation does not change. */
export class ResponseCache {
  #entries = new Map<string, { generation: number; body: string }>();
  #maxEntries: number;

  constructor(maxEntries = 128) {
    this.#maxEntries = maxEntries;
  }

  /** The body stored for `key` at `generation`, if any. */
  get(key: string, generation: number): string | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.generation !== generation) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.body;
  }

  /** Stores `body`; the oldest entry goes when the cache is full. */
  set(key: string, generation: number, body: string): void {
    this.#entries.delete(key);
    this.#entries.set(key, { generation, body });
    if (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  /** Number of entries, for tests. */
  get size(): number {
    return this.#entries.size;
  }
}
