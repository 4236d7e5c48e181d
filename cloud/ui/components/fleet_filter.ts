/**
 * The fleet table's filter: a text match on device ids and labels and an online/offline
 * choice. Pure, so the server (no-JS page) and the live island filter the same way.
 * @module
 */

/** Presence choices of the filter. */
export const PRESENCE_CHOICES = ["all", "online", "offline"] as const;
/** One of {@link PRESENCE_CHOICES}. */
export type PresenceChoice = typeof PRESENCE_CHOICES[number];

/** A parsed filter. */
export interface FleetFilter {
  /** Case-insensitive text looked for in the id and in each label as `key=value`. */
  q: string;
  status: PresenceChoice;
}

/** What the filter looks at in a device. */
export interface FilterableDevice {
  id: string;
  online: boolean;
  labels: Record<string, string>;
}

/** The longest text matched; a longer one is cut (it is a search box, not a document). */
export const MAX_FILTER_TEXT = 100;

/** Reads `?q=&status=`; a missing or unknown status means every device. */
export function parseFleetFilter(query: Record<string, string | undefined>): FleetFilter {
  const status = query.status ?? "";
  return {
    q: (query.q ?? "").trim().slice(0, MAX_FILTER_TEXT),
    status: (PRESENCE_CHOICES as readonly string[]).includes(status)
      ? status as PresenceChoice
      : "all",
  };
}

/** True when `device` passes `filter`. */
export function matchesFleetFilter(device: FilterableDevice, filter: FleetFilter): boolean {
  if (filter.status === "online" && !device.online) return false;
  if (filter.status === "offline" && device.online) return false;
  if (filter.q === "") return true;
  const needle = filter.q.toLowerCase();
  const haystack = [
    device.id,
    ...Object.entries(device.labels).map(([key, value]) => `${key}=${value}`),
  ];
  return haystack.some((text) => text.toLowerCase().includes(needle));
}

/** True when the filter lets every device through. */
export function isEmptyFilter(filter: FleetFilter): boolean {
  return filter.q === "" && filter.status === "all";
}
