/**
 * Selecting devices in SQL, the same way on libSQL and PostgreSQL: label selectors as
 * EXISTS / NOT EXISTS probes of `device_labels` (its primary key answers "this device, this
 * key"; the (key, value, device_id) index answers "devices with this label"), an id prefix,
 * presence and lag, and keyset pagination by id.
 * @module
 */
import { type Expression, type ExpressionBuilder, sql, type SqlBool } from "kysely";
import type { Requirement, Selector } from "../fleet/selector.ts";
import type { StoreDialect } from "./dialect.ts";
import type { CloudDatabase } from "./schema.ts";

/** A device is `lagging` when at least this many of its records are not stored yet. */
export const LAGGING_RECORDS = 1000;

/** Device states the list filters by. */
export const DEVICE_STATES = ["online", "offline", "lagging"] as const;
/** One of {@link DEVICE_STATES}. */
export type DeviceState = typeof DEVICE_STATES[number];

/** Which devices: every condition given must hold. Deleted devices (tombstones) never match. */
export interface DeviceFilter {
  selector?: Selector;
  /** An id prefix (case-sensitive). */
  q?: string;
  state?: DeviceState;
  /** Only active devices (not revoked or decommissioned): what rollouts and jobs target. */
  activeOnly?: boolean;
}

type DevicesEb = ExpressionBuilder<CloudDatabase, "devices">;

function labelRows(eb: DevicesEb, key: string) {
  return eb.selectFrom("device_labels")
    .select(sql.lit(1).as("one"))
    .whereRef("device_labels.device_id", "=", "devices.id")
    .where("device_labels.key", "=", key);
}

/** The ids of devices that have label `key` (with one of `values`, when given). */
function labelled(eb: DevicesEb, key: string, values?: string[]) {
  let select = eb.selectFrom("device_labels").select("device_labels.device_id")
    .where("device_labels.key", "=", key);
  if (values) {
    select = values.length === 1
      ? select.where("device_labels.value", "=", values[0])
      : select.where("device_labels.value", "in", values);
  }
  return select;
}

/**
 * A requirement as SQL. What must be present is `id IN (devices with the label)`, which both
 * planners can run from the (key, value, device_id) index (a rare label: a few lookups) or as a
 * semi-join; what must be absent is `NOT EXISTS` probing the primary key (device_id, key).
 */
function requirementExpression(eb: DevicesEb, r: Requirement): Expression<SqlBool> {
  switch (r.op) {
    case "exists":
      return eb("devices.id", "in", labelled(eb, r.key));
    case "notexists":
      return eb.not(eb.exists(labelRows(eb, r.key)));
    case "eq":
      return eb("devices.id", "in", labelled(eb, r.key, [r.value]));
    case "neq":
      return eb.not(eb.exists(labelRows(eb, r.key).where("device_labels.value", "=", r.value)));
    case "in":
      return eb("devices.id", "in", labelled(eb, r.key, r.values));
    case "notin":
      return eb.not(eb.exists(labelRows(eb, r.key).where("device_labels.value", "in", r.values)));
  }
}

/** The character after `c` (for the exclusive end of a prefix range). */
function successor(text: string): string {
  return text.slice(0, -1) + String.fromCharCode(text.charCodeAt(text.length - 1) + 1);
}

/**
 * An id prefix. libSQL compares text byte by byte, so a range is exact and uses the primary key.
 * PostgreSQL compares by the database's collation, where a range is not a prefix test (e.g.
 * en_US ignores punctuation first): LIKE is exact everywhere and uses the key's index under the
 * C collation (see docs/CLOUD.md). Device ids hold only letters, digits, `_`, `.` and `-`.
 */
function prefixExpression(eb: DevicesEb, q: string, dialect: StoreDialect): Expression<SqlBool> {
  if (dialect === "postgres") {
    const pattern = q.replace(/[\\%_]/g, (c) => `\\${c}`) + "%";
    return sql<SqlBool>`${eb.ref("devices.id")} LIKE ${pattern} ESCAPE '\\'`;
  }
  return eb.and([eb("devices.id", ">=", q), eb("devices.id", "<", successor(q))]);
}

/** The WHERE condition of `filter`. */
export function deviceFilterExpression(
  eb: DevicesEb,
  filter: DeviceFilter,
  dialect: StoreDialect,
): Expression<SqlBool> {
  const parts: Expression<SqlBool>[] = [
    filter.activeOnly ? eb("devices.status", "=", "active") : eb("devices.status", "!=", "deleted"),
  ];
  for (const r of filter.selector?.requirements ?? []) parts.push(requirementExpression(eb, r));
  if (filter.q) parts.push(prefixExpression(eb, filter.q, dialect));
  if (filter.state === "online") parts.push(eb("devices.online", "=", 1));
  if (filter.state === "offline") parts.push(eb("devices.online", "=", 0));
  if (filter.state === "lagging") parts.push(laggingExpression());
  return eb.and(parts);
}

function laggingExpression(): Expression<SqlBool> {
  return sql<SqlBool>`devices.last_seq - devices.acked_seq >= ${sql.lit(LAGGING_RECORDS)}`;
}

/** Counts of a filtered set of devices, by state. */
export interface DeviceCounts {
  total: number;
  online: number;
  offline: number;
  lagging: number;
}

/** The select list that counts devices by state (one pass over the filtered rows). */
export function countSelection() {
  return [
    sql<number | string>`count(*)`.as("total"),
    sql<number | string | null>`sum(devices.online)`.as("online"),
    sql<number | string | null>`sum(CASE WHEN devices.last_seq - devices.acked_seq >= ${
      sql.lit(LAGGING_RECORDS)
    } THEN 1 ELSE 0 END)`.as("lagging"),
  ] as const;
}

/** Converts a row of {@link countSelection}. */
export function toCounts(
  row: { total: number | string; online: number | string | null; lagging: number | string | null },
): DeviceCounts {
  const total = Number(row.total);
  const online = Number(row.online ?? 0);
  return { total, online, offline: total - online, lagging: Number(row.lagging ?? 0) };
}

/** A page cursor that cannot be read (not one this API handed out). */
export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CursorError";
  }
}

/** The opaque cursor after the device `id`. */
export function encodeCursor(id: string): string {
  return btoa(JSON.stringify({ after: id })).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * The device id a cursor continues after.
 * @throws CursorError when it is not a cursor from {@link encodeCursor}.
 */
export function decodeCursor(cursor: string): string {
  try {
    const json = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof json?.after === "string" && json.after.length > 0 && json.after.length <= 255) {
      return json.after;
    }
  } catch {
    // reported below
  }
  throw new CursorError(`cursor '${cursor.slice(0, 80)}' is not one this API handed out`);
}
