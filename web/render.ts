/**
 * Server-side rendering of whole pages into responses.
 * @module
 */
import type { VNode } from "preact";
import { renderToString } from "preact-render-to-string";

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
