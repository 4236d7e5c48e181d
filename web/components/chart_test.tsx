import assert from "node:assert/strict";
import { renderToString } from "preact-render-to-string";
import { LineChart, MAX_TOOLTIPS, niceTicks } from "./chart.tsx";
import { LABEL_CHAR_WIDTH, LABEL_HEIGHT, timeAxis, valueAxis } from "./chart_axes.ts";

const T0 = Date.parse("2026-11-26T10:00:00Z");

function points(count: number, base: number) {
  return Array.from({ length: count }, (_, i) => ({ t: T0 + i * 60_000, v: base + i }));
}

Deno.test("LineChart draws one path per series, named by data-series", () => {
  const html = renderToString(
    <LineChart
      id="c1"
      title="Climate"
      unit="C"
      series={[
        { name: "temp", points: points(5, 20) },
        { name: "hum", points: points(5, 40) },
        { name: "dew", points: points(5, 10) },
      ]}
    />,
  );
  const series = [...html.matchAll(/<path[^>]*data-series="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(series, ["temp", "hum", "dew"]);
  assert.match(html, /<svg viewBox="0 0 640 240" role="img" aria-labelledby="c1-title c1-desc"/);
  assert.match(html, /<title id="c1-title">Climate<\/title>/);
  assert.match(
    html,
    /<desc id="c1-desc">temp: 5 points from 2026-11-26 10:00:00 to 10:04:00 UTC, min 20 C/,
  );
  assert.match(html, /Time \(UTC\)/);
  // Axis labels for time and value, and a legend naming each series.
  assert.match(html, /<text[^>]*>10:00:00<\/text>/);
  assert.match(html, /<ul class="legend">.*temp.*hum.*dew.*<\/ul>/s);
});

Deno.test("LineChart path coordinates stay inside the plot and go left to right in time", () => {
  const unordered = [{ t: T0 + 120_000, v: 3 }, { t: T0, v: 1 }, { t: T0 + 60_000, v: 2 }];
  const html = renderToString(
    <LineChart id="c2" title="t" series={[{ name: "s", points: unordered }]} />,
  );
  const d = /data-series="s"[^>]*d="([^"]+)"|d="([^"]+)"[^>]*data-series="s"/.exec(html)!;
  const coords = (d[1] ?? d[2]).slice(1).split("L").map((pair) => pair.split(",").map(Number));
  const xs = coords.map(([x]) => x);
  assert.deepEqual([...xs].sort((a, b) => a - b), xs);
  for (const [x, y] of coords) {
    assert.ok(x >= 40 && x <= 620 && y >= 12 && y <= 196, `${x},${y} outside the plot`);
  }
});

Deno.test("LineChart with a band draws the min/max area under the average line", () => {
  const html = renderToString(
    <LineChart
      id="c3"
      title="Buckets"
      series={[{
        name: "temp",
        points: points(3, 20),
        band: points(3, 20).map((p) => ({ t: p.t, min: p.v - 1, max: p.v + 1 })),
      }]}
    />,
  );
  assert.match(html, /<path class="band" data-band="temp" d="M[^"]+Z"/);
  assert.equal([...html.matchAll(/data-series=/g)].length, 1);
});

Deno.test("LineChart with no points renders a no-data message instead of an empty plot", () => {
  const html = renderToString(
    <LineChart
      id="c4"
      title="temp"
      series={[{ name: "temp", points: [] }]}
      emptyText="No readings yet."
    />,
  );
  assert.ok(!html.includes("<svg"));
  assert.match(html, /<figcaption id="c4-title">temp<\/figcaption>/);
  assert.match(html, /<p class="no-data">No readings yet\.<\/p>/);
  const none = renderToString(<LineChart id="c5" title="x" series={[]} />);
  assert.match(none, /No data yet\./);
});

Deno.test("LineChart escapes series names and titles in SVG text and attributes", () => {
  const evil = '"><script>alert(1)</script>';
  const html = renderToString(
    <LineChart
      id="c6"
      title={evil}
      series={[{ name: evil, points: points(2, 1) }, { name: "b", points: points(2, 2) }]}
    />,
  );
  assert.ok(!html.includes("<script>"));
  assert.match(html, /data-series="&quot;>&lt;script>alert\(1\)&lt;\/script>"/);
});

Deno.test("LineChart handles a single point and a flat line", () => {
  const html = renderToString(
    <LineChart id="c7" title="one" series={[{ name: "s", points: [{ t: T0, v: 5 }] }]} />,
  );
  assert.match(html, /data-series="s"/);
  assert.match(html, /<circle/);
  assert.ok(!/NaN|Infinity/.test(html));
});

Deno.test("niceTicks spans the range with round steps", () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 5, 10]);
  const ticks = niceTicks(18.7, 24.2, 5);
  assert.ok(ticks[0] <= 18.7 && ticks[ticks.length - 1] >= 24.2);
  const steps = ticks.slice(1).map((t, i) => Number((t - ticks[i]).toPrecision(6)));
  assert.ok(steps.every((step) => step === steps[0]));
  assert.ok([1, 2, 5].includes(steps[0] / 10 ** Math.floor(Math.log10(steps[0]))));
  const flat = niceTicks(5, 5, 5);
  assert.ok(flat[0] < 5 && flat[flat.length - 1] > 5);
  assert.deepEqual(niceTicks(0, 1, 3), [0, 0.5, 1]);
});

const MAX = Number.MAX_VALUE;

/** Every number in the markup's coordinates and the texts drawn. */
function geometry(html: string) {
  const numbers = [...html.matchAll(/\s(?:x|y|x1|x2|y1|y2|cx|cy)="([^"]*)"/g)].map((m) => m[1]);
  const paths = [...html.matchAll(/\sd="([^"]*)"/g)].map((m) => m[1]);
  const texts = [
    ...html.matchAll(/<text x="([^"]+)" y="([^"]+)" text-anchor="(\w+)"[^>]*>([^<]*)<\/text>/g),
  ]
    .map((m) => ({ x: Number(m[1]), y: Number(m[2]), anchor: m[3], text: m[4] }));
  return { numbers, paths, texts };
}

function assertFinite(html: string, what: string) {
  assert.ok(!/NaN|Infinity/.test(html), `${what}: NaN or Infinity in the markup`);
  const { numbers, paths } = geometry(html);
  for (const n of numbers) assert.ok(Number.isFinite(Number(n)), `${what}: coordinate ${n}`);
  for (const d of paths) {
    for (const n of d.split(/[MLZ,]/).filter(Boolean)) {
      assert.ok(Number.isFinite(Number(n)), `${what}: path number ${n}`);
    }
  }
}

/** Labels along one axis as [start, end] intervals in viewBox units, at the phone font. */
function spans(texts: { x: number; anchor: string; text: string }[]): [number, number][] {
  return texts.map(({ x, anchor, text }) => {
    const w = text.length * LABEL_CHAR_WIDTH;
    return anchor === "start" ? [x, x + w] : anchor === "end" ? [x - w, x] : [x - w / 2, x + w / 2];
  });
}

Deno.test("LineChart draws finite coordinates for the largest doubles, single points and flat lines", () => {
  const cases: [string, number[]][] = [
    ["both ends of the double range", [-MAX, MAX, 0]],
    ["a single largest value", [MAX]],
    ["a flat line at the largest value", [MAX, MAX, MAX]],
    ["a flat line at the most negative value", [-MAX, -MAX]],
    ["the smallest subnormal", [5e-324, 0, -5e-324]],
    ["a huge range of ordinary and extreme values", [21.5, 1e300, -3e307, MAX]],
    ["a flat line at zero", [0, 0, 0, 0]],
  ];
  for (const [what, values] of cases) {
    const html = renderToString(
      <LineChart
        id="x"
        title={what}
        unit="C"
        series={[{
          name: "s",
          points: values.map((v, i) => ({ t: T0 + i * 1000, v })),
          band: values.map((v, i) => ({ t: T0 + i * 1000, min: v, max: v })),
        }]}
      />,
    );
    assertFinite(html, what);
    const { texts } = geometry(html);
    const yLabels = texts.filter((t) => t.anchor === "end" && t.y <= 196);
    assert.ok(yLabels.length >= 2, `${what}: value labels`);
    for (const label of yLabels) {
      assert.ok(
        label.x - label.text.length * LABEL_CHAR_WIDTH >= 26,
        `${what}: '${label.text}' is cut off`,
      );
    }
  }
});

Deno.test("value axes scale extreme ranges and label them with their exponent", () => {
  const axis = valueAxis(-MAX, MAX, 5);
  assert.ok(axis.ticks.every(Number.isFinite));
  assert.ok(axis.min <= axis.scale(-MAX) && axis.max >= axis.scale(MAX));
  assert.deepEqual(axis.ticks.map(axis.label), ["-2e308", "-1e308", "0", "1e308", "2e308"]);
  const plain = valueAxis(18.7, 24.2, 5);
  assert.equal(plain.scale(20), 20);
  assert.ok(plain.ticks.map(plain.label).every((label) => !label.includes("e")));
});

Deno.test("axis labels never overlap at the phone font, whatever the span", () => {
  const spansMs = [
    0,
    30_000,
    9 * 60_000,
    5 * 3_600_000,
    30 * 3_600_000,
    5 * 86_400_000,
    400 * 86_400_000,
  ];
  const extremes = [[Date.parse("0001-01-01T00:00:00Z"), Date.parse("9999-12-31T23:59:59Z")]];
  const windows = [...spansMs.map((span) => [T0, T0 + span]), ...extremes];
  for (const [a, b] of windows) {
    for (const width of [640, 420]) {
      const html = renderToString(
        <LineChart
          id="o"
          title="t"
          width={width}
          series={[{ name: "s", points: [{ t: a, v: -MAX / 3 }, { t: b, v: 123456.789 }] }]}
        />,
      );
      assertFinite(html, `span ${b - a}`);
      const { texts } = geometry(html);
      const bottom = Math.max(...texts.map((t) => t.y));
      const xLabels = texts.filter((t) => t.y !== bottom && t.y > 196);
      assert.ok(xLabels.length >= 2, `span ${b - a}: time labels`);
      const intervals = spans(xLabels);
      for (let i = 1; i < intervals.length; i++) {
        assert.ok(
          intervals[i][0] >= intervals[i - 1][1],
          `span ${b - a} at width ${width}: '${xLabels[i - 1].text}' and '${
            xLabels[i].text
          }' overlap`,
        );
      }
      const yLabels = texts.filter((t) => t.y <= 196 && t.anchor === "end");
      for (let i = 1; i < yLabels.length; i++) {
        assert.ok(
          Math.abs(yLabels[i].y - yLabels[i - 1].y) >= LABEL_HEIGHT,
          "value labels overlap",
        );
      }
    }
  }
});

Deno.test("time labels show the date unless every point is on one day", () => {
  const sameDay = timeAxis(T0, T0 + 3_600_000, 556);
  assert.equal(sameDay.caption, "Time (UTC), 2026-11-26");
  assert.equal(sameDay.label(T0), "10:00");
  const twoDays = timeAxis(T0, T0 + 30 * 3_600_000, 556);
  assert.equal(twoDays.label(T0), "11-26 10:00");
  assert.equal(twoDays.caption, "Time (UTC), 2026");
  assert.equal(twoDays.pointLabel(T0), "2026-11-26 10:00:00 UTC");
  const centuries = timeAxis(
    Date.parse("0001-01-01T00:00:00Z"),
    Date.parse("9999-12-31T00:00:00Z"),
    556,
  );
  assert.deepEqual(
    [centuries.label(centuries.ticks[0]), centuries.label(centuries.ticks.at(-1)!)],
    ["1", "9999"],
  );
  assert.equal(centuries.caption, "Time (UTC)");
});

Deno.test("the latest value names its date unless it is today", () => {
  const points = [{ t: Date.parse("9999-12-31T23:59:59Z"), v: 1 }];
  const future = renderToString(
    <LineChart id="f" title="f" series={[{ name: "s", points }]} now={T0} />,
  );
  assert.match(future, /latest 1 at 9999-12-31 23:59:59 UTC/);
  const today = renderToString(
    <LineChart
      id="g"
      title="g"
      series={[{ name: "s", points: [{ t: T0 + 5000, v: 2 }] }]}
      now={T0}
    />,
  );
  assert.match(today, /latest 2 at 10:00:05 UTC/);
});

Deno.test("points carry tooltips, at most MAX_TOOLTIPS per series, the band's range included", () => {
  const few = renderToString(
    <LineChart
      id="t1"
      title="t"
      unit="C"
      series={[{
        name: "temp",
        points: points(3, 20),
        band: points(3, 20).map((p) => ({ t: p.t, min: p.v - 1, max: p.v + 1 })),
      }]}
    />,
  );
  const titles = [...few.matchAll(/<circle[^>]*><title>([^<]+)<\/title><\/circle>/g)].map((m) =>
    m[1]
  );
  assert.deepEqual(titles, [
    "temp average: 20 C (min 19, max 21) at 10:00:00 UTC",
    "temp average: 21 C (min 20, max 22) at 10:01:00 UTC",
    "temp average: 22 C (min 21, max 23) at 10:02:00 UTC",
  ]);
  const many = renderToString(
    <LineChart id="t2" title="t" series={[{ name: "s", points: points(500, 0) }]} />,
  );
  const sampled = [...many.matchAll(/<circle[^>]*><title>([^<]+)<\/title>/g)].map((m) => m[1]);
  assert.equal(sampled.length, MAX_TOOLTIPS);
  assert.match(sampled[0], /: 0 at 10:00:00 UTC$/);
  assert.match(sampled.at(-1)!, /: 499 at /);
});
