/**
 * Recent readings as one line chart per sensor (sensors have different units, so they do not
 * share an axis), in a responsive grid. Used by the agent dashboard and the fleet device page.
 * @module
 */
import type { JSX } from "preact";
import { type ChartPoint, LineChart } from "./chart.tsx";

/** Recent readings of one sensor, oldest first. */
export interface SensorSeriesView {
  sensor: string;
  unit: string;
  points: ChartPoint[];
}

/** A string usable inside an element id. */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "x";
}

/** Props of {@link SensorCharts}. */
export interface SensorChartsProps {
  sensors: SensorSeriesView[];
  /** Prefix of the charts' element ids, unique on the page. */
  idPrefix?: string;
  /** "Now" (ms): a latest reading not of today names its date. */
  now?: number;
}

/** The grid of charts, one series each, in distinct colours. */
export function SensorCharts(props: SensorChartsProps): JSX.Element {
  const prefix = props.idPrefix ?? "chart";
  return (
    <div class="chart-grid">
      {props.sensors.map((series, index) => (
        <LineChart
          key={series.sensor}
          colorOffset={index}
          id={`${prefix}-${index}-${slug(series.sensor)}`}
          title={`${series.sensor}${series.unit ? ` (${series.unit})` : ""}`}
          unit={series.unit}
          series={[{ name: series.sensor, points: series.points }]}
          emptyText={`No readings of ${series.sensor}.`}
          now={props.now}
        />
      ))}
    </div>
  );
}
