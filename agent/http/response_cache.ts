/**
 * A small cache of serialized GET responses, valid for one store generation. Dashboards poll
 * the same queries between writes; serving those from memory skips SQLite and JSON encoding.
 *
 * Bounded by entries and by bytes: `limit` goes up to 10,000 readings (~0.8 MB of JSON), so
 * 128 distinct large queries would otherwise pin ~100 MB of strings in the agent's heap.
 * @module
 */

/** Default byte budget of a {@link ResponseCache}: the sum of the cached bodies' lengths. */
export const DEFAULT_RESPONSE_CACHE_BYTES = 4 * 1024 * 1024;

/** Caches response bodies by key for as long as the data generation does not change. */
export class ResponseCache {
  #entries = new Map<string, { generation: number; body: string }>();
  #maxEntries: number;
  #maxBytes: number;
  #bytes = 0;

  /**
   * @param maxEntries most entries kept
   * @param maxBytes most body characters kept in all; a body over a quarter of it is not cached
   */
  constructor(maxEntries = 128, maxBytes = DEFAULT_RESPONSE_CACHE_BYTES) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** The body stored for `key` at `generation`, if any. */
  get(key: string, generation: number): string | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.generation !== generation) {
      this.#delete(key);
      return undefined;
    }
    return entry.body;
  }

  /** Stores `body`; the oldest entries go when the cache is full. */
  set(key: string, generation: number, body: string): void {
    this.#delete(key);
    // JSON bodies are mostly ASCII: the length is the size in bytes, near enough for a budget.
    if (body.length > this.#maxBytes / 4) return;
    this.#entries.set(key, { generation, body });
    this.#bytes += body.length;
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.#delete(this.#entries.keys().next().value!);
    }
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.body.length;
  }

  /** Number of entries, for tests. */
  get size(): number {
    return this.#entries.size;
  }

  /** Sum of the cached bodies' lengths, for tests. */
  get bytes(): number {
    return this.#bytes;
  }
}
