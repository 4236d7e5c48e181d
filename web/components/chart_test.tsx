import assert from "node:assert/strict";
import { renderToString } from "preact-render-to-string";
import { LineChart, niceTicks } from "./chart.tsx";

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
  assert.match(html, /<desc id="c1-desc">temp: 5 points from 10:00:00 to 10:04:00 UTC, min 20 C/);
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
    assert.ok(x >= 64 && x <= 620 && y >= 12 && y <= 196, `${x},${y} outside the plot`);
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
