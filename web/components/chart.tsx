/**
 * A time-series line chart as server-rendered SVG: readable without JavaScript (title, axes,
 * tick labels, legend, a text summary in `<desc>`), one `<path data-series>` per series and an
 * optional min/max band. Pure and deterministic, so islands render the same markup in the
 * browser. Colours are presentation attributes, not inline styles, so a strict CSP allows them.
 * @module
 */
import type { JSX } from "preact";
import { formatNumber, formatTick, formatTime } from "./format.ts";

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
}

/** Line colours with at least 4.5:1 contrast on white; odd series are dashed as well. */
export const SERIES_COLORS = ["#0b5cad", "#b3261e", "#1a7f37", "#8250df", "#8a5a00", "#0a6b78"];

const MARGIN = { top: 12, right: 20, bottom: 44, left: 64 };

/** The chart, or a "no data" message when there is nothing to draw. */
export function LineChart(props: LineChartProps): JSX.Element {
  const width = props.width ?? 640;
  const height = props.height ?? 240;
  const series = props.series.map((s) => ({
    ...s,
    points: [...s.points].sort((a, b) => a.t - b.t),
    band: s.band ? [...s.band].sort((a, b) => a.t - b.t) : undefined,
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

  const times = series.flatMap((
    s,
  ) => [...s.points.map((p) => p.t), ...(s.band ?? []).map((b) => b.t)]);
  const values = series.flatMap((s) => [
    ...s.points.map((p) => p.v),
    ...(s.band ?? []).flatMap((b) => [b.min, b.max]),
  ]);
  let [t0, t1] = extent(times);
  if (t0 === t1) [t0, t1] = [t0 - 30_000, t1 + 30_000];
  const yTicks = niceTicks(...extent(values), 5);
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const plot = {
    left: MARGIN.left,
    right: width - MARGIN.right,
    top: MARGIN.top,
    bottom: height - MARGIN.bottom,
  };
  const x = (t: number) => round(plot.left + ((t - t0) / (t1 - t0)) * (plot.right - plot.left));
  const y = (v: number) => round(plot.bottom - ((v - y0) / (y1 - y0)) * (plot.bottom - plot.top));
  const xTicks = Array.from({ length: 5 }, (_, i) => t0 + ((t1 - t0) * i) / 4);
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
          {yTicks.map((tick) => (
            <line x1={plot.left} x2={plot.right} y1={y(tick)} y2={y(tick)} stroke="#d0d7de" />
          ))}
        </g>
        <g class="axis axis-y" aria-hidden="true">
          <line x1={plot.left} x2={plot.left} y1={plot.top} y2={plot.bottom} stroke="#57606a" />
          {yTicks.map((tick) => (
            <text x={plot.left - 6} y={y(tick)} text-anchor="end" dominant-baseline="middle">
              {formatNumber(tick)}
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
          {xTicks.map((tick, i) => (
            <text
              x={x(tick)}
              y={plot.bottom + 18}
              text-anchor={i === 0 ? "start" : i === xTicks.length - 1 ? "end" : "middle"}
            >
              {formatTick(tick, t1 - t0)}
            </text>
          ))}
          <text x={plot.right} y={height - 4} text-anchor="end">Time (UTC)</text>
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
            {unit} at {formatTime(series[0].points[series[0].points.length - 1].t)} UTC
          </span>
        )}
      </figcaption>
    </figure>
  );
}

/**
 * About `count` round tick values spanning `[min, max]` (1, 2 or 5 times a power of ten apart).
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
    const last = s.points[s.points.length - 1];
    const suffix = unit ? ` ${unit}` : "";
    return `${s.name}: ${s.points.length} point${s.points.length === 1 ? "" : "s"} from ` +
      `${formatTime(s.points[0].t)} to ${formatTime(last.t)} UTC, min ${
        formatNumber(min)
      }${suffix}, max ${formatNumber(max)}${suffix}, latest ${formatNumber(last.v)}${suffix}.`;
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
