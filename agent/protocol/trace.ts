/**
 * Trace context on the wire (optional, additive): a record may carry the W3C `traceparent` of
 * the write that produced it, and a batch the `traceparent` of the upload that sent it. Agents
 * without tracing send neither; clouds without tracing ignore both.
 *
 * - record: `{"seq":7,"type":"reading",…,"traceparent":"00-<trace>-<span>-01"}` — stored in the
 *   outbox row with the record, so an upload hours later still links to the write.
 * - batch: `{"from":7,"to":9,"traceparent":"00-…","records":[…]}`.
 * @module
 */
import { z } from "zod";

/**
 * The most distinct write contexts one batch is followed into: links of the upload span, commit
 * spans in the writes' traces. Bounds the spans a batch of 1,000 single-reading writes makes.
 */
export const MAX_TRACE_LINKS = 128;

/** A W3C trace context `traceparent` of version 00, lowercase hex, ids not all zero. */
export const TRACEPARENT_PATTERN = /^00-(?!0{32})[\da-f]{32}-(?!0{16})[\da-f]{16}-[\da-f]{2}$/;

/** The `traceparent` field of a record or a batch. */
export const Traceparent = z.string().length(55).regex(TRACEPARENT_PATTERN);

/** True when `value` is a {@link Traceparent}. */
export function isTraceparent(value: unknown): value is string {
  return typeof value === "string" && value.length === 55 && TRACEPARENT_PATTERN.test(value);
}

const FIELD = '"traceparent":"';

/**
 * Adds `traceparent` to a record's JSON object text (the outbox payload) without re-encoding it;
 * the text unchanged when there is none.
 */
export function withTraceparent(json: string, traceparent: string | undefined): string {
  return traceparent === undefined ? json : `${json.slice(0, -1)},${FIELD}${traceparent}"}`;
}

/**
 * The `traceparent` a record's JSON text carries (as {@link withTraceparent} wrote it), found
 * without parsing the record; undefined when it has none.
 */
export function readTraceparent(json: string): string | undefined {
  // Only as the last member, where withTraceparent puts it: a key of the same name inside an
  // event's `data` is not the record's.
  const at = json.length - 2 - 55 - FIELD.length;
  if (at < 1 || json.charCodeAt(at - 1) !== 44 /* , */ || !json.startsWith(FIELD, at)) {
    return undefined;
  }
  const value = json.slice(at + FIELD.length, at + FIELD.length + 55);
  return json.endsWith('"}') && isTraceparent(value) ? value : undefined;
}

/** True when the `traceparent` says its trace is sampled (flag bit 0). */
export function traceSampled(traceparent: string): boolean {
  return (parseInt(traceparent.slice(53, 55), 16) & 1) === 1;
}
