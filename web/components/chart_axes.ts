/**
 * The chart's arithmetic, kept apart from its markup: value axes that stay finite for any
 * finite doubles (±1.797e308 included, where `max - min` overflows), time axes whose labels say
 * the date unless every point is on one day, and tick counts chosen so labels never overlap at
 * the largest text size the stylesheet uses (phones). Pure and deterministic.
 * @module
 */
import { formatDate, formatNumber, formatTime, sameUtcDay } from "./format.ts";

/**
 * Width of one label character in viewBox units at the largest chart font (20 units on
 * phones, see app.css), with room for wide digits.
 */
export const LABEL_CHAR_WIDTH = 12;
/** Height a label needs, same font. */
export const LABEL_HEIGHT = 24;

/** A value axis: ticks in scaled units and the mapping into them. */
export interface ValueAxis {
  /** Tick positions in scaled units (`value / 10^exponent`), lowest first. */
  ticks: number[];
  /** Lowest and highest tick (the axis' ends), scaled. */
  min: number;
  max: number;
  /** A value in scaled units (finite for every finite value). */
  scale(value: number): number;
  /** The label of a tick. */
  label(tick: number): string;
}

/**
 * A value axis over `[min, max]` with about `count` round ticks. Values beyond ±1e300 (or
 * within ±1e-300 of zero) are scaled by a power of ten first, so no step, span or coordinate
 * overflows; labels then carry the exponent (`1.5e308`).
 */
export function valueAxis(min: number, max: number, count: number): ValueAxis {
  const magnitude = Math.max(Math.abs(min), Math.abs(max));
  const exponent = magnitude > 1e300 || (magnitude > 0 && magnitude < 1e-300)
    ? Math.floor(Math.log10(magnitude))
    : 0;
  // Two steps below 1e-300: 10^324 itself would overflow.
  const scale = exponent === 0
    ? (value: number) => value
    : exponent > 0
    ? (value: number) => value / 10 ** exponent
    : (value: number) => value * 1e300 * 10 ** (-exponent - 300);
  const ticks = niceTicks(scale(min), scale(max), count);
  return {
    ticks,
    min: ticks[0],
    max: ticks[ticks.length - 1],
    scale,
    label: (tick) =>
      exponent === 0 || tick === 0 ? formatNumber(tick) : `${formatNumber(tick)}e${exponent}`,
  };
}

/**
 * About `count` round tick values spanning `[min, max]` (1, 2 or 5 times a power of ten apart).
 * Expects finite values whose difference is finite (see {@link valueAxis}).
 */
export function niceTicks(min: number, max: number, count: number): number[] {
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    [min, max] = [min - pad, max + pad];
  }
  const rough = (max - min) / Math.max(1, count - 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let tick = first; tick < max + step / 2; tick += step) {
    ticks.push(Number(tick.toPrecision(12)));
    if (ticks.length > 50) break;
  }
  if (ticks[ticks.length - 1] < max) {
    ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  }
  return ticks;
}

/**
 * The value axis with as many ticks as fit `heightUnits` without labels touching (at least 2).
 */
export function fittedValueAxis(min: number, max: number, heightUnits: number): ValueAxis {
  for (let count = 5; count > 2; count--) {
    const axis = valueAxis(min, max, count);
    if (heightUnits / Math.max(1, axis.ticks.length - 1) >= LABEL_HEIGHT) return axis;
  }
  return valueAxis(min, max, 2);
}

/** A time axis: where the ticks are, how they read, and the caption under them. */
export interface TimeAxis {
  ticks: number[];
  label(ms: number): string;
  /** `Time (UTC), 2026-11-26` when every point is on that day; the year when all share one. */
  caption: string;
  /** A point's time as its tooltip says it (with the date unless the caption has it). */
  pointLabel(ms: number): string;
}

/** How to write tick labels for a span: the widest label's length and the formatter. */
function tickFormat(t0: number, t1: number): { chars: number; format: (ms: number) => string } {
  const span = t1 - t0;
  const oneDay = sameUtcDay(t0, t1);
  const oneYear = new Date(t0).getUTCFullYear() === new Date(t1).getUTCFullYear();
  if (oneDay && span <= 10 * 60_000) return { chars: 8, format: (ms) => formatTime(ms) };
  if (oneDay) return { chars: 5, format: (ms) => formatTime(ms).slice(0, 5) };
  if (span <= 3 * 86_400_000 && oneYear) {
    return {
      chars: 11,
      format: (ms) => `${formatDate(ms).slice(-5)} ${formatTime(ms).slice(0, 5)}`,
    };
  }
  if (span <= 3 * 86_400_000) {
    return { chars: 16, format: (ms) => `${formatDate(ms)} ${formatTime(ms).slice(0, 5)}` };
  }
  if (oneYear) return { chars: 5, format: (ms) => formatDate(ms).slice(-5) };
  if (span <= 3 * 365 * 86_400_000) return { chars: 10, format: formatDate };
  return { chars: 7, format: (ms) => String(new Date(ms).getUTCFullYear()) };
}

/**
 * A time axis over `[t0, t1]` for a plot `widthUnits` wide: evenly spaced ticks, as many as
 * fit without overlap (2 to 6), labels as precise as the span needs.
 */
export function timeAxis(t0: number, t1: number, widthUnits: number): TimeAxis {
  const { chars, format } = tickFormat(t0, t1);
  const width = chars * LABEL_CHAR_WIDTH;
  // The end labels are anchored at the plot's edges and the inner ones centred, so neighbours
  // need 1.5 label widths between their anchors, plus a gap.
  let count = 6;
  while (count > 2 && widthUnits / (count - 1) < 1.5 * width + 16) count--;
  const ticks = Array.from({ length: count }, (_, i) => t0 + ((t1 - t0) * i) / (count - 1));
  const oneDay = sameUtcDay(t0, t1);
  const oneYear = new Date(t0).getUTCFullYear() === new Date(t1).getUTCFullYear();
  const caption = oneDay
    ? `Time (UTC), ${formatDate(t0)}`
    : oneYear && chars <= 11
    ? `Time (UTC), ${formatDate(t0).slice(0, -6)}`
    : "Time (UTC)";
  return {
    ticks,
    label: format,
    caption,
    pointLabel: (ms) =>
      oneDay ? `${formatTime(ms)} UTC` : `${formatDate(ms)} ${formatTime(ms)} UTC`,
  };
}
