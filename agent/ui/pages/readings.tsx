/**
 * `/readings`: readings per time bucket (min/max band and average line per sensor, and a table)
 * filtered by sensor and time with a plain GET form. Server-rendered only.
 * @module
 */
import type { JSX } from "preact";
import { bucketMs, BucketParam } from "@outpost/platform/buckets";
import type { ReadingBucket } from "../../store/store.ts";
import type { ConsoleStore } from "../console_store.ts";
import { LineChart } from "@outpost/web/components/chart";
import { ErrorSummary, Select, TextInput } from "@outpost/web/components/form";
import { formatDateTime, formatNumber } from "@outpost/web/components/format";
import { PageHeader, Section } from "@outpost/web/components/layout";
import { slug } from "@outpost/web/components/sensor_charts";
import { DataTable } from "@outpost/web/components/table";
import { AgentPage, type PageContext } from "../page.tsx";

/** Time ranges offered, ending now (or at `to`). */
export const RANGES: Record<string, { label: string; ms: number }> = {
  "15m": { label: "Last 15 minutes", ms: 15 * 60_000 },
  "1h": { label: "Last hour", ms: 3_600_000 },
  "6h": { label: "Last 6 hours", ms: 6 * 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 24 * 3_600_000 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000 },
  "30d": { label: "Last 30 days", ms: 30 * 86_400_000 },
};

const BUCKETS = ["10s", "30s", "1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "7d"];
const TARGET_BUCKETS = 120;
const MAX_BUCKETS = 2000;
const MAX_ROWS = 10_000;
const TABLE_ROWS = 500;

/** The filter form's fields as typed. */
export interface ReadingsFilterValues {
  sensor: string;
  range: string;
  bucket: string;
  from: string;
  to: string;
}

/** A checked filter: the window and bucket to query, or errors by field. */
export type ReadingsFilter =
  | { ok: true; values: ReadingsFilterValues; from: number; to: number; bucket: string }
  | { ok: false; values: ReadingsFilterValues; errors: Record<string, string> };

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?$/;

/** Parses a `datetime-local` value (read as UTC) or an ISO-8601 time with offset. */
export function parseUtcTime(value: string): number | undefined {
  const text = value.trim();
  const ms = LOCAL_TIME.test(text)
    ? Date.parse(`${text}Z`)
    : /(?:Z|[+-]\d{2}:\d{2})$/.test(text)
    ? Date.parse(text)
    : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** The smallest offered bucket that splits `spanMs` into at most 120 buckets. */
export function autoBucket(spanMs: number): string {
  return BUCKETS.find((bucket) => spanMs / bucketMs(bucket) <= TARGET_BUCKETS) ?? "7d";
}

/** Checks the query of `/readings` against `now`. */
export function parseReadingsFilter(
  query: Record<string, string>,
  now: number,
): ReadingsFilter {
  const values: ReadingsFilterValues = {
    sensor: (query.sensor ?? "").trim(),
    range: query.range || "24h",
    bucket: query.bucket || "auto",
    from: query.from ?? "",
    to: query.to ?? "",
  };
  const errors: Record<string, string> = {};
  if (values.sensor.length > 64) errors.sensor = "Sensor must be at most 64 characters.";
  const range = RANGES[values.range];
  if (!range) errors.range = `Range must be one of: ${Object.keys(RANGES).join(", ")}.`;
  if (values.bucket !== "auto" && !BucketParam.safeParse(values.bucket).success) {
    errors.bucket = "Bucket must be auto or look like 30s, 5m, 1h or 1d.";
  }
  const to = values.to ? parseUtcTime(values.to) : now;
  if (to === undefined) errors.to = "To must be a date and time like 2026-11-26T10:00 (UTC).";
  const from = values.from
    ? parseUtcTime(values.from)
    : to !== undefined && range
    ? to - range.ms
    : undefined;
  if (values.from && from === undefined) {
    errors.from = "From must be a date and time like 2026-11-26T09:00 (UTC).";
  }
  // `to` at the edge of what a Date holds (year -271821) puts the default `from` beyond it, and
  // rendering that threw: a 500 (found by the chaos fuzzer).
  if (from !== undefined && Number.isNaN(new Date(from).getTime())) {
    errors.from = "From is out of range: pick a later date and time.";
  }
  if (from !== undefined && to !== undefined && from >= to && !errors.from && !errors.to) {
    errors.to = "To must be later than From.";
  }
  if (Object.keys(errors).length || from === undefined || to === undefined) {
    return { ok: false, values, errors };
  }
  const bucket = values.bucket === "auto" ? autoBucket(to - from) : values.bucket;
  if ((to - from) / bucketMs(bucket) > MAX_BUCKETS) {
    return {
      ok: false,
      values,
      errors: { bucket: `Bucket ${bucket} is too fine for this range: at most ${MAX_BUCKETS}.` },
    };
  }
  return { ok: true, values, from, to, bucket };
}

/** What the readings page shows for a valid filter. */
export interface ReadingsData {
  from: number;
  to: number;
  bucket: string;
  /** Buckets per sensor, oldest first. */
  bySensor: { sensor: string; unit: string; buckets: ReadingBucket[] }[];
  /** True when more buckets matched than one query returns (the oldest are left out). */
  truncated: boolean;
}

/** Queries the buckets of a valid filter. */
export async function loadReadings(
  store: Pick<ConsoleStore, "aggregateReadings" | "queryReadings">,
  filter: Extract<ReadingsFilter, { ok: true }>,
): Promise<ReadingsData> {
  const rows = await store.aggregateReadings(
    {
      sensor: filter.values.sensor || undefined,
      from: filter.from,
      to: filter.to,
      limit: MAX_ROWS,
    },
    bucketMs(filter.bucket),
  );
  const groups = new Map<string, ReadingBucket[]>();
  for (const row of rows) {
    const list = groups.get(row.sensor) ?? [];
    list.push(row);
    groups.set(row.sensor, list);
  }
  const bySensor = await Promise.all(
    [...groups.keys()].sort().map(async (sensor) => ({
      sensor,
      unit: (await store.queryReadings({ sensor, limit: 1 }))[0]?.unit ?? "",
      buckets: groups.get(sensor)!,
    })),
  );
  return {
    from: filter.from,
    to: filter.to,
    bucket: filter.bucket,
    bySensor,
    truncated: rows.length >= MAX_ROWS,
  };
}

/** Props of {@link ReadingsPage}. */
export interface ReadingsPageProps {
  context: PageContext;
  sensors: string[];
  filter: ReadingsFilter;
  data?: ReadingsData;
}

/** The readings page. */
export function ReadingsPage(props: ReadingsPageProps): JSX.Element {
  const { filter, data } = props;
  const errors = filter.ok ? {} : filter.errors;
  const values = filter.values;
  const sensorOptions = [{ value: "", label: "All sensors" }].concat(
    [...new Set([...props.sensors, ...(values.sensor ? [values.sensor] : [])])].map((s) => ({
      value: s,
      label: s,
    })),
  );
  return (
    <AgentPage context={props.context} title="Readings">
      <PageHeader
        title="Readings"
        lead="Minimum, average and maximum per time bucket. Times are UTC."
      />
      <ErrorSummary errors={errors} title="The filter has a problem" />
      <form method="get" action="/readings" class="filters" aria-label="Filter readings">
        <Select
          name="sensor"
          label="Sensor"
          required
          value={values.sensor}
          options={sensorOptions}
          error={errors.sensor}
        />
        <Select
          name="range"
          label="Range"
          required
          value={values.range}
          options={Object.entries(RANGES).map(([value, range]) => ({ value, label: range.label }))}
          error={errors.range}
        />
        <Select
          name="bucket"
          label="Bucket"
          required
          value={values.bucket}
          options={["auto", ...BUCKETS].concat(
            BUCKETS.includes(values.bucket) || values.bucket === "auto" ? [] : [values.bucket],
          ).map((value) => ({ value, label: value === "auto" ? "Automatic" : value }))}
          error={errors.bucket}
        />
        <TextInput
          name="from"
          label="From (UTC)"
          type="datetime-local"
          value={values.from}
          error={errors.from}
          hint="Overrides the range."
        />
        <TextInput
          name="to"
          label="To (UTC)"
          type="datetime-local"
          value={values.to}
          error={errors.to}
          hint="Default: now."
        />
        <div class="field">
          <button type="submit" class="button">Show</button>
        </div>
      </form>
      {data && <ReadingsResult data={data} />}
    </AgentPage>
  );
}

function ReadingsResult({ data }: { data: ReadingsData }): JSX.Element {
  const window = `${formatDateTime(data.from)} to ${formatDateTime(data.to)}`;
  const api = `/api/v1/readings?${new URLSearchParams({
    bucket: data.bucket,
    from: new Date(data.from).toISOString(),
    to: new Date(data.to).toISOString(),
    limit: String(MAX_ROWS),
  })}`;
  const rows = data.bySensor.flatMap((group) =>
    group.buckets.map((bucket) => ({ ...bucket, unit: group.unit }))
  ).sort((a, b) => b.bucket.localeCompare(a.bucket) || a.sensor.localeCompare(b.sensor));
  return (
    <>
      <Section id="readings-charts" title="Charts">
        <p class="note">
          {window}, {data.bucket} buckets. {data.truncated &&
            "More buckets matched than one query returns; the oldest are left out. "}
          <a href={api}>This data as JSON</a>
        </p>
        {data.bySensor.length === 0
          ? (
            <LineChart
              id="readings-chart-empty"
              title="Readings"
              series={[]}
              emptyText="No readings in this time range."
            />
          )
          : (
            <div class="chart-grid">
              {data.bySensor.map((group, index) => (
                <LineChart
                  id={`readings-chart-${index}-${slug(group.sensor)}`}
                  title={`${group.sensor}${
                    group.unit ? ` (${group.unit})` : ""
                  }: average with min-max band`}
                  unit={group.unit}
                  colorOffset={index}
                  now={data.to}
                  series={[{
                    name: group.sensor,
                    points: group.buckets.map((b) => ({ t: Date.parse(b.bucket), v: b.avg })),
                    band: group.buckets.map((b) => ({
                      t: Date.parse(b.bucket),
                      min: b.min,
                      max: b.max,
                    })),
                  }]}
                />
              ))}
            </div>
          )}
      </Section>
      <Section id="readings-table" title="Buckets">
        {rows.length > TABLE_ROWS && (
          <p class="note">Showing the newest {TABLE_ROWS} of {rows.length} buckets.</p>
        )}
        <DataTable
          id="buckets"
          caption={`Buckets of ${data.bucket}, newest first`}
          hideCaption
          rows={rows.slice(0, TABLE_ROWS)}
          rowKey={(row) => `${row.sensor}@${row.bucket}`}
          empty="No readings in this time range."
          columns={[
            {
              label: "Bucket start (UTC)",
              cell: (row) => <time datetime={row.bucket}>{formatDateTime(row.bucket)}</time>,
            },
            { label: "Sensor", cell: (row) => <code>{row.sensor}</code> },
            { label: "Min", numeric: true, cell: (row) => formatNumber(row.min) },
            { label: "Avg", numeric: true, cell: (row) => formatNumber(row.avg) },
            { label: "Max", numeric: true, cell: (row) => formatNumber(row.max) },
            { label: "Unit", cell: (row) => row.unit },
            { label: "Count", numeric: true, cell: (row) => row.count },
          ]}
        />
      </Section>
    </>
  );
}
