/**
 * libfaketime for one process: the environment that shifts its wall clock by what a file says.
 * @module
 */

/** The environment that makes a process see a clock shifted by what `file` holds. */
export function faketimeEnv(library: string, file: string): Record<string, string> {
  return {
    LD_PRELOAD: library,
    FAKETIME_TIMESTAMP_FILE: file,
    // Re-read the file every second, so a skew can change while the agent runs.
    FAKETIME_CACHE_DURATION: "1",
    // A real clock step (NTP, a wrong RTC) moves wall-clock time, never CLOCK_MONOTONIC.
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
  };
}
