/**
 * Publishing to many devices with a bounded number of publishes in flight: a wave or a job over
 * 10,000 devices must not hold 10,000 unacknowledged publishes (and their buffers) at once.
 * @module
 */

/** Publishes in flight at most. */
export const PUBLISH_CONCURRENCY = 64;

/** Runs `publish` over `items`, at most {@link PUBLISH_CONCURRENCY} at a time. */
export async function publishAll<T>(
  items: T[],
  publish: (item: T) => Promise<void>,
  concurrency = PUBLISH_CONCURRENCY,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await publish(items[next++]);
    }),
  );
}
