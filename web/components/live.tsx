/**
 * Live refresh for islands: a polling hook that starts only in the browser (effects never run
 * during server rendering, so the server HTML is the snapshot), skips hidden tabs, never
 * overlaps requests, and reports its state for the indicator that says what the user sees.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { formatTime } from "./format.ts";

/** Where the data on screen comes from. */
export type LiveState =
  | { state: "snapshot" }
  | { state: "live" }
  | { state: "error"; message: string };

/**
 * Calls `load` every `pollMs` (after the previous call ended) and hands each result to `apply`;
 * `pollMs` of 0 or less turns polling off. The functions of the first render are used.
 */
export function usePoll<T>(
  pollMs: number,
  load: () => Promise<T>,
  apply: (value: T) => void,
): LiveState {
  const [live, setLive] = useState<LiveState>({ state: "snapshot" });
  useEffect(() => {
    if (!(pollMs > 0)) return;
    setLive({ state: "live" });
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      // A hidden tab does not need fresh data; check again on the next tick.
      if (!(globalThis as { document?: { hidden?: boolean } }).document?.hidden) {
        try {
          const value = await load();
          if (!stopped) {
            apply(value);
            setLive({ state: "live" });
          }
        } catch (error) {
          if (!stopped) setLive({ state: "error", message: (error as Error).message });
        }
      }
      if (!stopped) timer = setTimeout(tick, pollMs);
    };
    timer = setTimeout(tick, pollMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return live;
}

/** GETs JSON; a non-2xx answer throws naming the path and status. */
export async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  // A hung request would stall every later refresh (the next one waits for this one).
  const response = await fetch(url, {
    headers: { accept: "application/json", ...headers },
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${url.split("?")[0]} answered ${response.status}`);
  }
  return await response.json() as T;
}

/** Props of {@link LiveIndicator}. */
export interface LiveIndicatorProps {
  live: LiveState;
  pollMs: number;
  /** When the data on screen was read (ISO). */
  updatedAt: string;
}

/** One line saying whether the data is a snapshot, live, or paused by an error. */
export function LiveIndicator({ live, pollMs, updatedAt }: LiveIndicatorProps): JSX.Element {
  return (
    <p class="live-indicator" data-live-state={live.state}>
      {live.state === "snapshot" && (
        <>Snapshot taken {formatTime(updatedAt)} UTC. Reload the page for newer data.</>
      )}
      {live.state === "live" && (
        <>
          <span class="live-dot" aria-hidden="true" /> Live: refreshes every{" "}
          {Math.round(pollMs / 1000)} s; last update {formatTime(updatedAt)} UTC.
        </>
      )}
      {live.state === "error" && (
        <>
          Live refresh paused ({live.message}); retrying. Last update {formatTime(updatedAt)} UTC.
        </>
      )}
    </p>
  );
}
