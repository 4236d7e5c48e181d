import assert from "node:assert/strict";
import { h, type JSX, type VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import {
  assertPlainData,
  decodeIslandProps,
  encodeIslandProps,
  hydrateIslands,
  island,
  type IslandElement,
  IslandPropsError,
  type IslandRoot,
} from "./island_runtime.ts";

function Greeting(props: { name: string; count: number }): JSX.Element {
  return h("p", { class: "greeting" }, `Hello ${props.name} (${props.count})`);
}

interface Marker {
  name: string;
  propsId: string;
  propsText: string;
}

/** Splits rendered HTML into its island markers and their props scripts. */
function scanMarkers(html: string): Marker[] {
  const markers: Marker[] = [];
  const pattern = /<outpost-island data-island="([^"]+)" data-props-id="([^"]+)">/g;
  for (const match of html.matchAll(pattern)) {
    const script = new RegExp(
      `<script type="application/json" id="${match[2]}" data-island-props="${
        match[1]
      }">(.*?)</script>`,
      "s",
    ).exec(html);
    assert.ok(script, `no props script for ${match[2]}`);
    markers.push({ name: match[1], propsId: match[2], propsText: script[1] });
  }
  return markers;
}

/** A document with just enough DOM for hydrateIslands. */
function fakeRoot(markers: Marker[]) {
  const elements = markers.map((marker) => {
    const attributes = new Map<string, string>([
      ["data-island", marker.name],
      ["data-props-id", marker.propsId],
    ]);
    const element: IslandElement & { attributes: Map<string, string> } = {
      attributes,
      getAttribute: (name) => attributes.get(name) ?? null,
      setAttribute: (name, value) => void attributes.set(name, value),
    };
    return element;
  });
  const root: IslandRoot = {
    querySelectorAll(selector) {
      assert.equal(selector, "outpost-island[data-island]");
      return elements;
    },
    getElementById(id) {
      const marker = markers.find((m) => m.propsId === id);
      return marker ? { textContent: marker.propsText } : null;
    },
  };
  return { root, elements };
}

Deno.test("island renders the component's HTML inside a marker with its props beside it", () => {
  const html = renderToString(
    h("main", null, island("Greeting", Greeting, { name: "Ada", count: 2 })),
  );
  assert.match(html, /<outpost-island data-island="Greeting" data-props-id="[^"]+">/);
  assert.match(html, /<p class="greeting">Hello Ada \(2\)<\/p><\/outpost-island>/);
  const [marker] = scanMarkers(html);
  assert.deepEqual(decodeIslandProps(marker.propsText), { name: "Ada", count: 2 });
});

Deno.test("two islands on one page get distinct props ids", () => {
  const html = renderToString(
    h(
      "main",
      null,
      island("Greeting", Greeting, { name: "a", count: 1 }),
      island("Greeting", Greeting, { name: "b", count: 2 }),
    ),
  );
  const markers = scanMarkers(html);
  assert.equal(markers.length, 2);
  assert.notEqual(markers[0].propsId, markers[1].propsId);
  assert.deepEqual(markers.map((m) => decodeIslandProps(m.propsText).name), ["a", "b"]);
});

Deno.test("props with </script>, <!-- and U+2028 stay inside the script and round-trip exactly", () => {
  const tricky = 'x</script><script>alert(1)</script><!-- \u2028\u2029 & "quoted" \' >';
  const html = renderToString(island("Greeting", Greeting, { name: tricky, count: 0 }));
  const scriptBody = html.slice(html.indexOf('type="application/json"'));
  // Exactly one </script>: the one closing the props script.
  assert.equal(scriptBody.split("</script>").length, 2);
  assert.ok(!scriptBody.includes("<!--"));
  assert.ok(!scriptBody.includes("\u2028"));
  const [marker] = scanMarkers(html);
  assert.equal(decodeIslandProps(marker.propsText).name, tricky);
  assert.equal(JSON.parse(encodeIslandProps("Greeting", { s: tricky })).s, tricky);
});

Deno.test("a function prop is rejected with a message naming the island and the prop", () => {
  assert.throws(
    () => island("EventForm", Greeting, { name: "x", count: 1, onSubmit: () => {} }),
    (error: unknown) =>
      error instanceof IslandPropsError &&
      error.message ===
        "Island 'EventForm': prop 'onSubmit' is a function; islands take plain data only",
  );
});

Deno.test("nested non-plain values are rejected with their path", () => {
  const cases: [unknown, string][] = [
    [
      { when: new Date(0) },
      "prop 'when' is a Date; pass an ISO string (date.toISOString()) instead",
    ],
    [{ list: [1, undefined] }, "prop 'list[1]' is undefined inside an array; use null"],
    [{ a: { b: [{ c: new Map() }] } }, "prop 'a.b[0].c' is an instance of Map"],
    [{ s: Symbol("x") }, "prop 's' is a symbol"],
    [{ n: 10n }, "prop 'n' is a bigint"],
    [{ n: NaN }, "prop 'n' is NaN, which JSON cannot carry"],
    [{ n: Infinity }, "prop 'n' is Infinity"],
    [{ el: h("b", null) }, "prop 'el' is a JSX element"],
    [{ sparse: [1, , 3] }, "prop 'sparse[1]' is a hole in an array"],
  ];
  for (const [props, message] of cases) {
    assert.throws(
      () => assertPlainData("Probe", props),
      (error: unknown) =>
        error instanceof IslandPropsError && error.message.startsWith(`Island 'Probe': ${message}`),
      message,
    );
  }
  class Point {
    x = 1;
  }
  assert.throws(
    () => assertPlainData("Probe", { at: new Point() }),
    /Island 'Probe': prop 'at' is an instance of Point; islands take plain data only/,
  );
});

Deno.test("cyclic props are rejected, shared acyclic references are fine", () => {
  const node: Record<string, unknown> = { name: "root" };
  node.self = { parent: node };
  assert.throws(
    () => assertPlainData("Tree", { node }),
    /Island 'Tree': prop 'node.self.parent' refers back to 'node' \(a cycle\)/,
  );
  const shared = { unit: "C" };
  assertPlainData("Charts", { a: shared, b: shared, list: [shared, shared] });
  assertPlainData("Plain", { n: null, u: undefined, nested: Object.create(null) });
});

Deno.test("island names must be simple identifiers and islands do not nest", () => {
  assert.throws(() => island('x" onload="', Greeting, { name: "", count: 0 }), IslandPropsError);
  const Outer = () => island("Inner", Greeting, { name: "i", count: 0 });
  assert.throws(
    () => renderToString(island("Outer", Outer, {})),
    /Island 'Inner' is rendered inside island 'Outer'; islands do not nest/,
  );
});

Deno.test("decodeIslandProps accepts only a JSON object", () => {
  assert.deepEqual(decodeIslandProps('{"a":[1,"\\u003c"]}'), { a: [1, "<"] });
  assert.throws(() => decodeIslandProps("[1]"), IslandPropsError);
  assert.throws(() => decodeIslandProps("null"), IslandPropsError);
  assert.throws(() => decodeIslandProps("{"), SyntaxError);
});

Deno.test("hydrateIslands hydrates each marker with its registered component and props", () => {
  const html = renderToString(
    h(
      "main",
      null,
      island("Greeting", Greeting, { name: "Ada", count: 1 }),
      island("Greeting", Greeting, { name: "Bob", count: 2 }),
    ),
  );
  const { root, elements } = fakeRoot(scanMarkers(html));
  const calls: { vnode: VNode; element: IslandElement }[] = [];
  const hydrated = hydrateIslands({ Greeting }, {
    root,
    hydrate: (vnode, element) => calls.push({ vnode, element }),
    onError: (message) => assert.fail(message),
  });
  assert.deepEqual(hydrated, ["Greeting", "Greeting"]);
  assert.equal(calls.length, 2);
  assert.equal(calls[0].vnode.type, Greeting);
  assert.deepEqual(calls[0].vnode.props, { name: "Ada", count: 1 });
  assert.deepEqual(calls[1].vnode.props, { name: "Bob", count: 2 });
  assert.equal(calls[1].element, elements[1]);
  assert.ok(elements.every((element) => element.getAttribute("data-hydrated") === ""));
  // A second pass leaves already hydrated markers alone.
  assert.deepEqual(hydrateIslands({ Greeting }, { root, hydrate: () => assert.fail() }), []);
});

Deno.test("hydrateIslands reports and skips unknown islands, missing and broken props", () => {
  const markers: Marker[] = [
    { name: "Unknown", propsId: "p1", propsText: "{}" },
    // Only own registry keys count, not Object.prototype's.
    { name: "toString", propsId: "p2", propsText: "{}" },
    { name: "Greeting", propsId: "p3", propsText: "{not json" },
    { name: "Greeting", propsId: "p4", propsText: '{"name":"ok","count":3}' },
  ];
  const { root } = fakeRoot(markers);
  const errors: string[] = [];
  const hydrated = hydrateIslands({ Greeting }, {
    root,
    hydrate: () => {},
    onError: (message) => errors.push(message),
  });
  assert.deepEqual(hydrated, ["Greeting"]);
  assert.deepEqual(errors, [
    "Island 'Unknown' is not in the client registry; left as server HTML",
    "Island 'toString' is not in the client registry; left as server HTML",
    "Island 'Greeting' failed to hydrate; left as server HTML",
  ]);
  const { root: noScript } = fakeRoot([{ name: "Greeting", propsId: "gone", propsText: "" }]);
  const lost: string[] = [];
  hydrateIslands({ Greeting }, {
    root: { ...noScript, getElementById: () => null },
    hydrate: () => assert.fail(),
    onError: (message) => lost.push(message),
  });
  assert.deepEqual(lost, ["Island 'Greeting': props script #gone is missing; left as server HTML"]);
});
