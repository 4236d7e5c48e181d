/**
 * A time-series line chart as server-rendered SVG: readable without JavaScript (title, axes,
 * tick labels, legend, a text summary in `<desc>`, a `<title>` tooltip on the points), one
 * `<path data-series>` per series and an optional min/max band. Any finite values draw finite
 * coordinates (the axes are in `chart_axes.ts`). Pure and deterministic, so islands render the
 * same markup in the browser. Colours are presentation attributes, not inline styles, so a
 * strict CSP allows them.
 * @module
 */
import type { JSX } from "preact";
import { fittedValueAxis, LABEL_CHAR_WIDTH, timeAxis } from "./chart_axes.ts";
import {
  formatDate,
  formatDateTime,
  formatMoment,
  formatNumber,
  formatTime,
  sameUtcDay,
} from "./format.ts";

export { niceTicks } from "./chart_axes.ts";

/** One point: `t` in ms since the epoch, `v` the value. */
export interface ChartPoint {
  t: number;
  v: number;
}

/** One bucket of a min/max band. */
export interface ChartBandPoint {
  t: number;
  min: number;
  max: number;
}

/** One named line, optionally with the band it summarizes. */
export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  band?: ChartBandPoint[];
}

/** Props of {@link LineChart}. */
export interface LineChartProps {
  /** Unique on the page: prefixes the ids that tie `<title>`/`<desc>` to the SVG. */
  id: string;
  title: string;
  series: ChartSeries[];
  /** Unit of the y axis, e.g. `C`. */
  unit?: string;
  /** viewBox size; the SVG scales to its container's width. */
  width?: number;
  height?: number;
  /** Shown instead of the chart when no series has a point. */
  emptyText?: string;
  /** First palette colour to use, so that one-series charts of different sensors differ. */
  colorOffset?: number;
  /** "Now" (ms), so that "latest … at" names the date unless it is today; default: always. */
  now?: number;
}

/** Line colours with at least 4.5:1 contrast on white; odd series are dashed as well. */
export const SERIES_COLORS = ["#0b5cad", "#b3261e", "#1a7f37", "#8250df", "#8a5a00", "#0a6b78"];

/** Tooltip targets per series at most: they cost markup, and closer ones overlap anyway. */
export const MAX_TOOLTIPS = 48;

const MARGIN = { top: 12, right: 20, bottom: 44 };
/** Room for the rotated unit label left of the value labels. */
const UNIT_COLUMN = 26;

/** The chart, or a "no data" message when there is nothing to draw. */
export function LineChart(props: LineChartProps): JSX.Element {
  const width = props.width ?? 640;
  const height = props.height ?? 240;
  // Points that are not finite cannot be placed; the API never stores them, but stay safe.
  const series = props.series.map((s) => ({
    ...s,
    points: s.points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
      .sort((a, b) => a.t - b.t),
    band: s.band?.filter((b) => [b.t, b.min, b.max].every(Number.isFinite))
      .sort((a, b) => a.t - b.t),
  }));
  const count = series.reduce((sum, s) => sum + s.points.length, 0);
  const titleId = `${props.id}-title`;
  if (count === 0) {
    return (
      <figure class="chart chart-empty" id={props.id} aria-labelledby={titleId}>
        <figcaption id={titleId}>{props.title}</figcaption>
        <p class="no-data">{props.emptyText ?? "No data yet."}</p>
      </figure>
    );
  }

  const times = series.flatMap((s) => [
    ...s.points.map((p) => p.t),
    ...(s.band ?? []).map((b) => b.t),
  ]);
  const values = series.flatMap((s) => [
    ...s.points.map((p) => p.v),
    ...(s.band ?? []).flatMap((b) => [b.min, b.max]),
  ]);
  let [t0, t1] = extent(times);
  if (t0 === t1) [t0, t1] = [t0 - 30_000, t1 + 30_000];
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const yAxis = fittedValueAxis(...extent(values), plotHeight);
  const yLabels = yAxis.ticks.map((tick) => yAxis.label(tick));
  const labelWidth = Math.max(...yLabels.map((label) => label.length)) * LABEL_CHAR_WIDTH;
  const left = UNIT_COLUMN + Math.max(24, labelWidth) + 8;
  const plot = {
    left,
    right: width - MARGIN.right,
    top: MARGIN.top,
    bottom: height - MARGIN.bottom,
  };
  const xAxis = timeAxis(t0, t1, plot.right - plot.left);
  const x = (t: number) => round(plot.left + ((t - t0) / (t1 - t0)) * (plot.right - plot.left));
  const y = (v: number) =>
    round(
      plot.bottom -
        ((yAxis.scale(v) - yAxis.min) / (yAxis.max - yAxis.min)) * (plot.bottom - plot.top),
    );
  const unit = props.unit ? ` ${props.unit}` : "";
  const offset = props.colorOffset ?? 0;

  return (
    <figure class="chart" id={props.id}>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-labelledby={`${titleId} ${props.id}-desc`}
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={titleId}>{props.title}</title>
        <desc id={`${props.id}-desc`}>{describe(series, props.unit)}</desc>
        <g class="grid" aria-hidden="true">
          {yAxis.ticks.map((tick) => (
            <line
              x1={plot.left}
              x2={plot.right}
              y1={y0(tick)}
              y2={y0(tick)}
              stroke="#d0d7de"
            />
          ))}
        </g>
        <g class="axis axis-y" aria-hidden="true">
          <line x1={plot.left} x2={plot.left} y1={plot.top} y2={plot.bottom} stroke="#57606a" />
          {yAxis.ticks.map((tick, i) => (
            <text x={plot.left - 6} y={y0(tick)} text-anchor="end" dominant-baseline="middle">
              {yLabels[i]}
            </text>
          ))}
          {props.unit && (
            <text
              x={14}
              y={(plot.top + plot.bottom) / 2}
              text-anchor="middle"
              transform={`rotate(-90 14 ${(plot.top + plot.bottom) / 2})`}
            >
              {props.unit}
            </text>
          )}
        </g>
        <g class="axis axis-x" aria-hidden="true">
          <line x1={plot.left} x2={plot.right} y1={plot.bottom} y2={plot.bottom} stroke="#57606a" />
          {xAxis.ticks.map((tick, i) => (
            <text
              x={x(tick)}
              y={plot.bottom + 18}
              text-anchor={i === 0 ? "start" : i === xAxis.ticks.length - 1 ? "end" : "middle"}
            >
              {xAxis.label(tick)}
            </text>
          ))}
          <text x={plot.right} y={height - 4} text-anchor="end">{xAxis.caption}</text>
        </g>
        {series.map((s, i) => {
          const color = colorOf(i + offset);
          const last = s.points[s.points.length - 1];
          return (
            <g class="series">
              {s.band && s.band.length > 0 && (
                <path
                  class="band"
                  data-band={s.name}
                  d={bandPath(s.band, x, y)}
                  fill={color}
                  fill-opacity="0.16"
                  stroke="none"
                />
              )}
              <path
                class="line"
                data-series={s.name}
                d={linePath(s.points, x, y)}
                fill="none"
                stroke={color}
                stroke-width="2"
                stroke-linejoin="round"
                stroke-dasharray={(i + offset) % 2 ? "6 3" : undefined}
              />
              {last && <circle cx={x(last.t)} cy={y(last.v)} r="3" fill={color} />}
              <g class="hits">
                {sample(s.points, MAX_TOOLTIPS).map((point) => (
                  <circle cx={x(point.t)} cy={y(point.v)} r="8" fill="transparent">
                    <title>{tooltip(s, point, unit, xAxis.pointLabel)}</title>
                  </circle>
                ))}
              </g>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span class="chart-title">{props.title}</span>
        {series.length > 1 && (
          <ul class="legend">
            {series.map((s, i) => (
              <li>
                <svg viewBox="0 0 24 8" width="24" height="8" aria-hidden="true">
                  <line
                    x1="0"
                    x2="24"
                    y1="4"
                    y2="4"
                    stroke={colorOf(i + offset)}
                    stroke-width="3"
                    stroke-dasharray={(i + offset) % 2 ? "6 3" : undefined}
                  />
                </svg>
                {s.name}
              </li>
            ))}
          </ul>
        )}
        {series.length === 1 && series[0].points.length > 0 && (
          <span class="chart-latest">
            latest {formatNumber(series[0].points[series[0].points.length - 1].v)}
            {unit} at {formatMoment(
              series[0].points[series[0].points.length - 1].t,
              props.now ?? Number.NaN,
            )}
          </span>
        )}
      </figcaption>
    </figure>
  );

  /** A tick's y (ticks are already in scaled units). */
  function y0(tick: number): number {
    return round(
      plot.bottom - ((tick - yAxis.min) / (yAxis.max - yAxis.min)) * (plot.bottom - plot.top),
    );
  }
}

/** At most `max` points, evenly by index, always with the first and the last. */
function sample<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const step = (points.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => points[Math.round(i * step)]);
}

function tooltip(
  series: ChartSeries,
  point: ChartPoint,
  unit: string,
  when: (ms: number) => string,
): string {
  const band = series.band?.find((b) => b.t === point.t);
  const range = band ? ` (min ${formatNumber(band.min)}, max ${formatNumber(band.max)})` : "";
  const what = band ? `${series.name} average` : series.name;
  return `${what}: ${formatNumber(point.v)}${unit}${range} at ${when(point.t)}`;
}

function linePath(points: ChartPoint[], x: (t: number) => number, y: (v: number) => number) {
  return points.map((p, i) => `${i ? "L" : "M"}${x(p.t)},${y(p.v)}`).join("");
}

function bandPath(band: ChartBandPoint[], x: (t: number) => number, y: (v: number) => number) {
  const upper = band.map((b, i) => `${i ? "L" : "M"}${x(b.t)},${y(b.max)}`).join("");
  const lower = [...band].reverse().map((b) => `L${x(b.t)},${y(b.min)}`).join("");
  return `${upper}${lower}Z`;
}

function describe(series: LineChartProps["series"], unit = ""): string {
  return series.map((s) => {
    if (s.points.length === 0) return `${s.name}: no data.`;
    const [min, max] = extent(s.points.map((p) => p.v));
    const first = s.points[0];
    const last = s.points[s.points.length - 1];
    const suffix = unit ? ` ${unit}` : "";
    const span = sameUtcDay(first.t, last.t)
      ? `${formatDate(first.t)} ${formatTime(first.t)} to ${formatTime(last.t)} UTC`
      : `${formatDateTime(first.t)} to ${formatDateTime(last.t)}`;
    return `${s.name}: ${s.points.length} point${s.points.length === 1 ? "" : "s"} from ` +
      `${span}, min ${formatNumber(min)}${suffix}, max ${formatNumber(max)}${suffix}, ` +
      `latest ${formatNumber(last.v)}${suffix}.`;
  }).join(" ");
}

/** [min, max] of a non-empty list (no spread: lists can be long). */
function extent(values: number[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return [min, max];
}

function colorOf(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length];
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
