/**
 * Islands: interactive components inside otherwise server-rendered pages.
 *
 * On the server, {@link island} renders a component's HTML inside an `<outpost-island>` marker
 * and writes its props, as JSON, into a `<script type="application/json">` right after it. In
 * the browser, {@link hydrateIslands} finds the markers, looks each component up in a registry,
 * decodes its props and hydrates only those elements; the rest of the page stays plain HTML.
 *
 * Props cross the network, so they must be plain data: {@link assertPlainData} rejects
 * functions, symbols, class instances (Date included), `undefined` inside arrays, non-finite
 * numbers and cycles, naming the prop path. Islands do not nest.
 *
 * This module runs on both sides: it imports `preact` (not the string renderer).
 * @module
 */
import {
  type ComponentType,
  createContext,
  h,
  hydrate,
  isValidElement,
  type JSX,
  type VNode,
} from "preact";
import { useContext, useId } from "preact/hooks";

/** The marker element's tag; styled `display: contents` so it does not affect layout. */
export const ISLAND_TAG = "outpost-island";

/** Island components by name, as the client bundle registers them. */
// deno-lint-ignore no-explicit-any -- each island has its own props type
export type IslandRegistry = Record<string, ComponentType<any>>;

/** Thrown when an island's name or props cannot go into the page. */
export class IslandPropsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IslandPropsError";
  }
}

const ISLAND_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const InsideIsland = createContext<string | undefined>(undefined);

/**
 * Renders `component` with `props` as an island named `name`: its server-rendered HTML inside
 * the marker, its props as JSON beside it. `name` must be the component's key in the client
 * registry.
 * @throws IslandPropsError when the props are not plain data (at render time).
 */
export function island<P extends object>(
  name: string,
  component: ComponentType<P>,
  props: P,
): JSX.Element {
  if (!ISLAND_NAME.test(name)) {
    throw new IslandPropsError(
      `Island name '${name.slice(0, 80)}' must be a letter then up to 63 letters, digits or _`,
    );
  }
  // Validate now, where the caller's stack is, rather than deep inside renderToString.
  const json = encodeIslandProps(name, props);
  return h(IslandMarker, { name, component, props, json });
}

/**
 * An island whose body was rendered already (by the server's render cache, `web/render.ts`):
 * the same marker and props script as {@link island}, with `html` as the marker's content.
 * `json` must be `encodeIslandProps(name, props)` of the props `html` was rendered from.
 */
export function prerenderedIsland(name: string, json: string, html: string): JSX.Element {
  return h(IslandMarker, { name, json, html });
}

/** The tree {@link island} renders inside its marker, for a renderer that renders it alone. */
export function islandBody<P extends object>(
  name: string,
  component: ComponentType<P>,
  props: P,
): JSX.Element {
  return h(InsideIsland.Provider, { value: name }, h(component as ComponentType<object>, props));
}

type IslandMarkerProps =
  & { name: string; json: string }
  // deno-lint-ignore no-explicit-any
  & ({ component: ComponentType<any>; props: object } | { html: string });

function IslandMarker(marker: IslandMarkerProps): JSX.Element {
  const { name, json } = marker;
  const outer = useContext(InsideIsland);
  if (outer !== undefined) {
    // The client hydrates each marker as its own root; a nested one would be hydrated twice.
    throw new IslandPropsError(
      `Island '${name}' is rendered inside island '${outer}'; islands do not nest`,
    );
  }
  const propsId = `island-props-${useId()}`;
  return h(
    InsideIsland.Provider,
    { value: name },
    "html" in marker
      ? h(ISLAND_TAG, {
        "data-island": name,
        "data-props-id": propsId,
        dangerouslySetInnerHTML: { __html: marker.html },
      })
      : h(
        ISLAND_TAG,
        { "data-island": name, "data-props-id": propsId },
        h(marker.component, marker.props),
      ),
    h("script", {
      type: "application/json",
      id: propsId,
      "data-island-props": name,
      dangerouslySetInnerHTML: { __html: json },
    }),
  );
}

/**
 * Validates `props` with {@link assertPlainData} and serializes them as JSON that is safe
 * inside a `<script>` element: `<`, `>`, `&`, U+2028 and U+2029 become `\uXXXX` escapes, so
 * neither `</script>` nor `<!--` can appear, and `JSON.parse` restores the exact strings.
 */
export function encodeIslandProps(name: string, props: unknown): string {
  assertPlainData(name, props);
  return islandPropsJson(props);
}

/** The JSON part of {@link encodeIslandProps}, without the check of the props. */
export function islandPropsJson(props: unknown): string {
  return JSON.stringify(props).replace(
    /[<>&\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Parses the text of an island's props script. */
export function decodeIslandProps(text: string): Record<string, unknown> {
  const value = JSON.parse(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new IslandPropsError("Island props must be a JSON object");
  }
  return value;
}

/**
 * Throws an {@link IslandPropsError} naming the first prop path whose value JSON would not
 * carry faithfully. Shared (acyclic) references are fine: JSON copies them.
 */
export function assertPlainData(name: string, props: unknown): void {
  const fail = (path: string, problem: string): never => {
    throw new IslandPropsError(`Island '${name}': prop '${path}' ${problem}`);
  };
  if (!isPlainObject(props)) {
    throw new IslandPropsError(`Island '${name}': props must be a plain object`);
  }
  const ancestors: { value: object; path: string }[] = [];
  const visit = (value: unknown, path: string, inArray: boolean): void => {
    switch (typeof value) {
      case "string":
      case "boolean":
        return;
      case "number":
        if (!Number.isFinite(value)) fail(path, `is ${value}, which JSON cannot carry`);
        return;
      case "undefined":
        // An object key holding undefined simply disappears, like an absent optional prop.
        if (inArray) fail(path, "is undefined inside an array; use null");
        return;
      case "function":
        return fail(path, "is a function; islands take plain data only");
      case "symbol":
        return fail(path, "is a symbol; islands take plain data only");
      case "bigint":
        return fail(path, "is a bigint; pass a number or a string");
    }
    if (value === null) return;
    const object = value as object;
    const cycle = ancestors.find((ancestor) => ancestor.value === object);
    if (cycle) {
      fail(
        path,
        `refers back to '${cycle.path || "(props)"}' (a cycle); islands take plain data only`,
      );
    }
    if (object instanceof Date) {
      fail(path, "is a Date; pass an ISO string (date.toISOString()) instead");
    }
    if (isValidElement(object)) {
      fail(path, "is a JSX element; render it inside the island component instead");
    }
    if (!Array.isArray(object) && !isPlainObject(object)) {
      const kind = (object as { constructor?: { name?: string } }).constructor?.name || "a class";
      fail(path, `is an instance of ${kind}; islands take plain data only`);
    }
    ancestors.push({ value: object, path });
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        if (!(i in object)) fail(`${path}[${i}]`, "is a hole in an array; use null");
        visit(object[i], `${path}[${i}]`, true);
      }
    } else {
      if (Object.getOwnPropertySymbols(object).length) {
        fail(path, "has symbol keys; islands take plain data only");
      }
      for (const [key, inner] of Object.entries(object)) {
        visit(inner, path ? `${path}.${key}` : key, false);
      }
    }
    ancestors.pop();
  };
  visit(props, "", false);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** The parts of an element {@link hydrateIslands} uses (a DOM `Element` has them). */
export interface IslandElement {
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
}

/** The parts of a document {@link hydrateIslands} uses (a DOM `Document` has them). */
export interface IslandRoot {
  querySelectorAll(selector: string): Iterable<IslandElement> | ArrayLike<IslandElement>;
  getElementById(id: string): { textContent: string | null } | null;
}

/** Options of {@link hydrateIslands}. */
export interface HydrateIslandsOptions {
  /** Where to look; default: `document`. */
  root?: IslandRoot;
  /** Replaces Preact's `hydrate` (tests). */
  hydrate?: (vnode: VNode, element: IslandElement) => void;
  /** Told about an island that could not be hydrated; default: `console.error`. */
  onError?: (message: string, error?: unknown) => void;
}

/**
 * Hydrates every island marker under `root` with its registered component and decoded props;
 * marks each hydrated marker `data-hydrated`. A broken island is reported and skipped, and
 * stays the working server-rendered HTML it was. Returns the names hydrated, in page order.
 */
export function hydrateIslands(
  registry: IslandRegistry,
  options: HydrateIslandsOptions = {},
): string[] {
  const root = options.root ?? (globalThis as unknown as { document: IslandRoot }).document;
  const render = options.hydrate ??
    ((vnode: VNode, element: IslandElement) => hydrate(vnode, element as unknown as Element));
  const report = options.onError ?? ((message, error) => console.error(message, error ?? ""));
  const hydrated: string[] = [];
  for (const marker of Array.from(root.querySelectorAll(`${ISLAND_TAG}[data-island]`))) {
    const name = marker.getAttribute("data-island") ?? "";
    if (marker.getAttribute("data-hydrated") !== null) continue;
    const component = Object.hasOwn(registry, name) ? registry[name] : undefined;
    if (!component) {
      report(`Island '${name}' is not in the client registry; left as server HTML`);
      continue;
    }
    const propsId = marker.getAttribute("data-props-id") ?? "";
    const script = root.getElementById(propsId);
    if (!script) {
      report(`Island '${name}': props script #${propsId} is missing; left as server HTML`);
      continue;
    }
    try {
      render(h(component, decodeIslandProps(script.textContent ?? "")), marker);
      marker.setAttribute("data-hydrated", "");
      hydrated.push(name);
    } catch (error) {
      report(`Island '${name}' failed to hydrate; left as server HTML`, error);
    }
  }
  return hydrated;
}
