/**
 * Server-side rendering of whole pages into responses.
 * @module
 */
import type { ComponentType, JSX, VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import {
  assertPlainData,
  island,
  islandBody,
  islandPropsJson,
  prerenderedIsland,
} from "./island_runtime.ts";

/**
 * The Content-Security-Policy of UI pages: only this origin's scripts, styles and connections,
 * no inline script (island props are `application/json`, which never executes), forms post
 * only here, and no framing.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join("; ");

/** `<!DOCTYPE html>` and the rendered document. */
export function renderPage(page: VNode): string {
  return `<!DOCTYPE html>${renderToString(page)}`;
}

/** Options of {@link pageResponse}. */
export interface PageResponseOptions {
  status?: number;
  headers?: HeadersInit;
}

/** An HTML response of the rendered page, never cached (it shows live device state). */
export function pageResponse(page: VNode, options: PageResponseOptions = {}): Response {
  const headers = new Headers(options.headers);
  headers.set("Content-Type", "text/html; charset=utf-8");
  headers.set("Cache-Control", "no-store");
  headers.set("Content-Security-Policy", PAGE_CSP);
  return new Response(renderPage(page), { status: options.status ?? 200, headers });
}

/** A 503 page that asks to retry in a second: the database is not ready yet. */
export function startingResponse(page: VNode): Response {
  return pageResponse(page, { status: 503, headers: { "Retry-After": "1" } });
}

/** The last body rendered per island name: its props JSON and its HTML. */
const lastIslandBodies = new Map<string, { json: string; html: string }>();

/**
 * {@link island}, with the body's HTML reused while the props stay the same: a page that many
 * clients (or one poller) load between two changes of its data renders its island once. Only
 * for components whose output depends on their props alone (no clock, no context from the page):
 * the props JSON is the cache key, so equal JSON must mean equal HTML. One entry per island name,
 * the latest, so memory stays at one page body per island.
 */
export function cachedIsland<P extends object>(
  name: string,
  component: ComponentType<P>,
  props: P,
): JSX.Element {
  // A hit serves the body and JSON of props that were checked when they were rendered: the
  // pair is the same whatever the new props are made of, so only a miss checks them.
  const json = islandPropsJson(props);
  const last = lastIslandBodies.get(name);
  if (last?.json === json) return prerenderedIsland(name, json, last.html);
  assertPlainData(name, props);
  let html: string;
  try {
    html = renderToString(islandBody(name, component, props));
  } catch {
    // Render it in place instead, so the error surfaces where island() would raise it.
    return island(name, component, props);
  }
  lastIslandBodies.set(name, { json, html });
  return prerenderedIsland(name, json, html);
}
