/**
 * Formatting shared by server and client renders. Everything is UTC and locale-free so that a
 * page rendered on the server and hydrated in any browser produces the same text.
 * @module
 */

/** `2026-11-26 10:00:05 UTC` from an ISO string or ms since the epoch; `—` when missing. */
export function formatDateTime(value: string | number | null | undefined): string {
  const date = toDate(value);
  return date ? `${date.toISOString().slice(0, 19).replace("T", " ")} UTC` : "—";
}

/** `10:00:05` (UTC) from an ISO string or ms since the epoch; `—` when missing. */
export function formatTime(value: string | number | null | undefined): string {
  const date = toDate(value);
  return date ? date.toISOString().slice(11, 19) : "—";
}

/** A chart tick label for `ms`, as precise as the visible `spanMs` needs. */
export function formatTick(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString();
  if (spanMs <= 10 * 60_000) return iso.slice(11, 19);
  if (spanMs <= 36 * 3_600_000) return iso.slice(11, 16);
  return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

/** A number with at most `digits` significant digits, without exponent noise for tick values. */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const rounded = Number(value.toPrecision(digits));
  return Math.abs(rounded) >= 1e6 || Math.abs(rounded) < 1e-3
    ? rounded.toExponential(2)
    : String(rounded);
}

/** A value with its unit, e.g. `21.5 C`, `40 %`. */
export function formatValue(value: number, unit = ""): string {
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

/** `text` cut to at most `max` characters, ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function toDate(value: string | number | null | undefined): Date | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
