/**
 * An indexed store of retained messages for the embedded broker (aedes).
 *
 * aedes' in-memory persistence answers every SUBSCRIBE by testing the filter against every
 * retained topic. Each device keeps a retained status and subscribes to its own downlink
 * on every connect, so connecting N devices cost O(N²) topic matches: 2,000 devices connected
 * in 3.5 s, 10,000 in 55–63 s (measured, see docs/PERFORMANCE.md). Here retained messages are
 * bucketed by their first {@link BUCKET_LEVELS} topic levels (the device's topic root), and a
 * filter whose first levels have no wildcard only looks at its bucket; other filters (the
 * cloud's whole uplink, `#`) still scan everything, in the same order as before.
 * @module
 */
import { Readable } from "node:stream";
import { DEVICE_TOPIC_LEVELS } from "@outpost/protocol";

/** Topic levels that form a bucket's key: one bucket per device. */
export const BUCKET_LEVELS = DEVICE_TOPIC_LEVELS;

/** The parts of a retained PUBLISH this store looks at; aedes' packets carry more. */
export interface RetainedPacket {
  topic: string;
  payload: { length: number } | string;
}

/**
 * True when `topic` matches the MQTT filter `filter` (`+` one level, `#` the rest including
 * the parent level; wildcards in the first level do not match `$` topics).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function bucketOf(topic: string): string {
  return topic.split("/", BUCKET_LEVELS).join("/");
}

/**
 * The one bucket that can hold every topic matching `filter`, or undefined when the filter
 * has a wildcard within its first {@link BUCKET_LEVELS} levels.
 */
export function bucketOfFilter(filter: string): string | undefined {
  const levels = filter.split("/");
  const head = levels.slice(0, BUCKET_LEVELS);
  if (head.some((level) => level === "+" || level === "#")) return undefined;
  // A filter shorter than the key without wildcards is an exact topic: its own bucket.
  return head.join("/");
}

/** Retained messages by topic, bucketed; see the module documentation. */
export class RetainedIndex<P extends RetainedPacket = RetainedPacket> {
  #all = new Map<string, P>();
  #buckets = new Map<string, Map<string, P>>();

  get size(): number {
    return this.#all.size;
  }

  /** Stores a copy of `packet`; an empty payload removes the topic's retained message. */
  store(packet: P): void {
    const key = bucketOf(packet.topic);
    if (packet.payload.length === 0) {
      if (!this.#all.delete(packet.topic)) return;
      const bucket = this.#buckets.get(key);
      bucket?.delete(packet.topic);
      if (bucket?.size === 0) this.#buckets.delete(key);
      return;
    }
    const copy = { ...packet };
    this.#all.set(packet.topic, copy);
    let bucket = this.#buckets.get(key);
    if (!bucket) this.#buckets.set(key, bucket = new Map());
    bucket.set(packet.topic, copy);
  }

  /** The retained messages matching `filter`. */
  *match(filter: string): Generator<P> {
    const key = bucketOfFilter(filter);
    const candidates = key === undefined ? this.#all : this.#buckets.get(key);
    if (!candidates) return;
    for (const [topic, packet] of candidates) {
      if (topicMatches(filter, topic)) yield packet;
    }
  }

  /** The retained messages matching any of `filters`, filter by filter (as aedes does). */
  *matchAll(filters: string[]): Generator<P> {
    for (const filter of filters) yield* this.match(filter);
  }
}

/** The retained-message methods of aedes' persistence that {@link indexRetained} replaces. */
export interface RetainedPersistence {
  storeRetained(packet: RetainedPacket, cb?: (error: Error | null) => void): unknown;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

/**
 * Replaces the retained-message methods of aedes' in-memory persistence (the instance aedes
 * created) with a {@link RetainedIndex}. The rest of the persistence (sessions, subscriptions,
 * wills, QoS 1 queues) is untouched. Call before the broker handles a connection.
 */
export function indexRetained(persistence: RetainedPersistence): RetainedIndex {
  const index = new RetainedIndex();
  persistence.storeRetained = (packet, cb) => {
    index.store(packet);
    if (cb) {
      queueMicrotask(() => cb(null));
      return undefined;
    }
    return Promise.resolve();
  };
  persistence.createRetainedStream = (pattern) => Readable.from(index.match(pattern));
  persistence.createRetainedStreamCombi = (patterns) => Readable.from(index.matchAll(patterns));
  return index;
}
