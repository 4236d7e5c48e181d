/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format. Enough for our `/metrics` without a dependency.
 * @module
 */

/** Label names and values of one series. */
export type Labels = Record<string, string | number>;

interface Series {
  labels: Labels;
  value: number;
}

interface HistogramSeries {
  labels: Labels;
  buckets: number[];
  sum: number;
  count: number;
}

/** A monotonically increasing counter. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
  /** The series of `labels`, resolved once: for hot paths that count the same labels often. */
  bind(labels: Labels): BoundCounter;
}

/** One series of a {@link Counter}. */
export interface BoundCounter {
  inc(by?: number): void;
}

/** A value that goes up and down; `collect` computes it at scrape time when given. */
export interface Gauge {
  set(value: number, labels?: Labels): void;
}

/** A histogram with fixed buckets. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
  /** The series of `labels`, resolved once (see {@link Counter.bind}). */
  bind(labels: Labels): BoundHistogram;
}

/** One series of a {@link Histogram}. */
export interface BoundHistogram {
  observe(value: number): void;
}

/** Default buckets for request durations, in seconds. */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((key) => `${key}=${labels[key]}`).join(",");
}

function escapeLabel(value: string | number): string {
  return String(value).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function renderLabels(labels: Labels, extra?: Labels): string {
  const all = { ...labels, ...extra };
  const keys = Object.keys(all);
  if (keys.length === 0) return "";
  return "{" + keys.map((key) => `${key}="${escapeLabel(all[key])}"`).join(",") + "}";
}

/** A registry of metrics rendered together. */
export class MetricsRegistry {
  #render: (() => string)[] = [];
  #collectors: (() => void | Promise<void>)[] = [];

  /**
   * Registers a counter; `collect` (if given) runs before each render and sets totals kept
   * elsewhere (e.g. a component's own stats), which must only grow.
   */
  counter(name: string, help: string, collect?: (counter: Gauge) => void | Promise<void>): Counter {
    const series = new Map<string, Series>();
    this.#render.push(() => renderSimple(name, help, "counter", series));
    const entryOf = (labels: Labels): Series => {
      const key = labelKey(labels);
      let entry = series.get(key);
      if (!entry) {
        entry = { labels, value: 0 };
        series.set(key, entry);
      }
      return entry;
    };
    if (collect) {
      this.#collectors.push(() =>
        collect({
          set(value, labels = {}) {
            // Updated in place: bound handles of the same series stay valid.
            entryOf(labels).value = value;
          },
        })
      );
    }
    return {
      inc(labels = {}, by = 1) {
        entryOf(labels).value += by;
      },
      get(labels = {}) {
        return series.get(labelKey(labels))?.value ?? 0;
      },
      bind(labels) {
        const entry = entryOf(labels);
        return {
          inc(by = 1) {
            entry.value += by;
          },
        };
      },
    };
  }

  /** Registers a gauge; `collect` (if given) runs before each render to refresh it. */
  gauge(name: string, help: string, collect?: (gauge: Gauge) => void | Promise<void>): Gauge {
    const series = new Map<string, Series>();
    const gauge: Gauge = {
      set(value, labels = {}) {
        series.set(labelKey(labels), { labels, value });
      },
    };
    if (collect) this.#collectors.push(() => collect(gauge));
    this.#render.push(() => renderSimple(name, help, "gauge", series));
    return gauge;
  }

  /** Registers a histogram with the given upper bounds. */
  histogram(name: string, help: string, bounds: number[] = DURATION_BUCKETS): Histogram {
    const series = new Map<string, HistogramSeries>();
    this.#render.push(() => {
      const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
      for (const entry of series.values()) {
        bounds.forEach((bound, i) => {
          lines.push(
            `${name}_bucket${renderLabels(entry.labels, { le: bound })} ${entry.buckets[i]}`,
          );
        });
        lines.push(`${name}_bucket${renderLabels(entry.labels, { le: "+Inf" })} ${entry.count}`);
        lines.push(`${name}_sum${renderLabels(entry.labels)} ${entry.sum}`);
        lines.push(`${name}_count${renderLabels(entry.labels)} ${entry.count}`);
      }
      return lines.join("\n");
    });
    const entryOf = (labels: Labels): HistogramSeries => {
      const key = labelKey(labels);
      let entry = series.get(key);
      if (!entry) {
        entry = { labels, buckets: bounds.map(() => 0), sum: 0, count: 0 };
        series.set(key, entry);
      }
      return entry;
    };
    const record = (entry: HistogramSeries, value: number) => {
      for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]) entry.buckets[i]++;
      entry.sum += value;
      entry.count++;
    };
    return {
      observe(value, labels = {}) {
        record(entryOf(labels), value);
      },
      bind(labels) {
        const entry = entryOf(labels);
        return { observe: (value) => record(entry, value) };
      },
    };
  }

  /** Renders every metric in the Prometheus text format, refreshing collected gauges first. */
  async render(): Promise<string> {
    for (const collect of this.#collectors) await collect();
    return this.#render.map((render) => render()).join("\n") + "\n";
  }
}

function renderSimple(name: string, help: string, type: string, series: Map<string, Series>) {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const entry of series.values()) {
    lines.push(`${name}${renderLabels(entry.labels)} ${entry.value}`);
  }
  return lines.join("\n");
}

/** Registers process memory gauges (resident set size and V8 heap). */
export function registerProcessMetrics(registry: MetricsRegistry): void {
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", (gauge) => {
    gauge.set(Deno.memoryUsage().rss);
  });
  registry.gauge("process_heap_used_bytes", "V8 heap used in bytes.", (gauge) => {
    gauge.set(Deno.memoryUsage().heapUsed);
  });
}
