/**
 * The device list's query in the console's URL (`/?selector=&q=&state=&cursor=`): read from the
 * page's GET form, written into links (state tabs, next page) and into the API URL the live
 * table polls, so the no-JS page and the island show the same page. Pure: the server and the
 * island both use it. The filtering itself happens in SQL (`GET /api/v1/devices`).
 * @module
 */

/** State choices of the list. */
export const STATE_CHOICES = ["all", "online", "offline", "lagging"] as const;
/** One of {@link STATE_CHOICES}. */
export type StateChoice = typeof STATE_CHOICES[number];

/** The list's query as the URL carries it. */
export interface FleetQuery {
  /** A label selector (checked by the server: a bad one is shown as a form error). */
  selector: string;
  /** A device id prefix. */
  q: string;
  state: StateChoice;
  /** The page's cursor (absent: the first page). */
  cursor?: string;
}

/** The longest selector and search text kept from the URL. */
export const MAX_QUERY_TEXT = { selector: 2000, q: 63, cursor: 512 } as const;

/** Devices per page of the console. */
export const CONSOLE_PAGE_SIZE = 50;

/** Reads `?selector=&q=&state=&cursor=`; an unknown state means every device. */
export function parseFleetQuery(query: Record<string, string | undefined>): FleetQuery {
  const state = query.state ?? "";
  const cursor = (query.cursor ?? "").slice(0, MAX_QUERY_TEXT.cursor);
  return {
    selector: (query.selector ?? "").trim().slice(0, MAX_QUERY_TEXT.selector),
    q: (query.q ?? "").trim().slice(0, MAX_QUERY_TEXT.q),
    state: (STATE_CHOICES as readonly string[]).includes(state) ? state as StateChoice : "all",
    ...(cursor ? { cursor } : {}),
  };
}

/** The query's non-default parts as URL parameters (`overrides` replace them). */
export function fleetParams(
  query: FleetQuery,
  overrides: Partial<FleetQuery> = {},
): URLSearchParams {
  const merged = { ...query, ...overrides };
  const params = new URLSearchParams();
  if (merged.selector) params.set("selector", merged.selector);
  if (merged.q) params.set("q", merged.q);
  if (merged.state !== "all") params.set("state", merged.state);
  if (merged.cursor) params.set("cursor", merged.cursor);
  return params;
}

/** The console URL of the list with `overrides` (a tab, the next page). */
export function fleetHref(query: FleetQuery, overrides: Partial<FleetQuery> = {}): string {
  const params = fleetParams(query, overrides).toString();
  return params ? `/?${params}` : "/";
}

/** The API URL of the same page (what the live table polls). */
export function devicesApiUrl(query: FleetQuery, limit = CONSOLE_PAGE_SIZE): string {
  const params = fleetParams(query);
  params.set("limit", String(limit));
  return `/api/v1/devices?${params}`;
}

/** True when the query names every device (no selector, no search, no state). */
export function isEmptyQuery(query: FleetQuery): boolean {
  return query.selector === "" && query.q === "" && query.state === "all";
}
