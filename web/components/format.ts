/**
 * Formatting shared by server and client renders. Everything is UTC and locale-free so that a
 * page rendered on the server and hydrated in any browser produces the same text.
 * @module
 */

/** `2026-11-26 10:00:05 UTC` from an ISO string or ms since the epoch; `—` when missing. */
export function formatDateTime(value: string | number | null | undefined): string {
  const date = toDate(value);
  return date ? `${formatDate(date.getTime())} ${clock(date)} UTC` : "—";
}

/** `10:00:05` (UTC) from an ISO string or ms since the epoch; `—` when missing. */
export function formatTime(value: string | number | null | undefined): string {
  const date = toDate(value);
  return date ? clock(date) : "—";
}

/** A number with at most `digits` significant digits, without exponent noise for tick values. */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const rounded = Number(value.toPrecision(digits));
  // Rounding the largest doubles up (1.7977e308 to 1.798e308) overflows to Infinity.
  if (!Number.isFinite(rounded)) return value.toExponential(2);
  return Math.abs(rounded) >= 1e6 || Math.abs(rounded) < 1e-3
    ? rounded.toExponential(2)
    : String(rounded);
}

/** `2026-11-26` (UTC; years outside 0-9999 keep their sign and digits). */
export function formatDate(ms: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return "—";
  const year = date.getUTCFullYear();
  const yyyy = year >= 0 && year <= 9999 ? String(year).padStart(4, "0") : String(year);
  return `${yyyy}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** True when both instants fall on the same UTC day. */
export function sameUtcDay(a: number, b: number): boolean {
  return Math.floor(a / DAY_MS) === Math.floor(b / DAY_MS);
}

/**
 * `10:00:05 UTC` when `value` is on the UTC day of `now`, else `2026-11-25 10:00:05 UTC`: the
 * date is shown whenever it is not today (a reading dated 9999 must not look like today's).
 */
export function formatMoment(value: string | number, now: number): string {
  const date = toDate(value);
  if (!date) return "—";
  return sameUtcDay(date.getTime(), now)
    ? `${formatTime(date.getTime())} UTC`
    : `${formatDate(date.getTime())} ${formatTime(date.getTime())} UTC`;
}

/** A value with its unit, e.g. `21.5 C`, `40 %`. */
export function formatValue(value: number, unit = ""): string {
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

/** `text` cut to at most `max` characters, ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const DAY_MS = 86_400_000;

function clock(date: Date): string {
  return `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function toDate(value: string | number | null | undefined): Date | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
