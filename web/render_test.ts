import assert from "node:assert/strict";
import { h, type JSX } from "preact";
import { island } from "./island_runtime.ts";
import { cachedIsland, renderPage } from "./render.ts";

let renders = 0;
function Counter(props: { label: string; values: number[] }): JSX.Element {
  renders++;
  return h(
    "ul",
    { class: "counter" },
    props.values.map((v) => h("li", null, `${props.label} ${v}`)),
  );
}

const page = (body: JSX.Element) => renderPage(h("main", null, body));

Deno.test("cachedIsland renders what island renders, and renders a body once while its props stay equal", () => {
  renders = 0;
  const props = { label: "t", values: [1, 2, 3] };
  const plain = page(island("CounterA", Counter, props));
  assert.equal(renders, 1);
  const first = page(cachedIsland("CounterA", Counter, props));
  const second = page(cachedIsland("CounterA", Counter, { label: "t", values: [1, 2, 3] }));
  assert.equal(renders, 2, "the second page reused the first body");
  assert.equal(first, plain);
  assert.equal(second, plain);
});

Deno.test("cachedIsland renders again when the props change, and never serves the old body", () => {
  renders = 0;
  const a = page(cachedIsland("CounterB", Counter, { label: "a", values: [1] }));
  const b = page(cachedIsland("CounterB", Counter, { label: "a", values: [2] }));
  assert.equal(renders, 2);
  assert.match(a, /a 1/);
  assert.match(b, /a 2/);
  assert.doesNotMatch(b, /a 1/);
});

Deno.test("cachedIsland keeps island's checks: bad props and nesting still throw", () => {
  assert.throws(
    () => cachedIsland("CounterC", Counter, { label: "x", values: [Number.NaN] }),
    /prop 'values\[0\]' is NaN/,
  );
  const Outer = () => cachedIsland("Inner", Counter, { label: "i", values: [] });
  assert.throws(() => page(island("Outer", Outer, {})), /islands do not nest/);
});
