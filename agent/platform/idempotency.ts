/**
 * `Idempotency-Key` on POSTs (both APIs): a client that retries a write after a timeout sends
 * the same key, gets the first answer again and nothing is stored twice. Keys are kept for
 * {@link IDEMPOTENCY_TTL_MS} per route (`POST /api/v1/readings` and `POST /api/v1/events` have
 * separate key spaces); reusing a key with another body is a 422 `idempotency_key_reused`, and a
 * retry arriving while the first request still runs is a 409 `idempotency_in_progress`.
 *
 * The agent records the key in the same transaction as the write (`AgentStore`); the cloud uses
 * {@link idempotencyKeys}, a middleware over an {@link IdempotencyRecords} store.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HttpError } from "./http_error.ts";

/** The request header. */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** Set to `true` on an answer replayed from a stored key. */
export const REPLAYED_HEADER = "Idempotent-Replayed";
/** How long a key is remembered: 24 hours. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

const KEY = /^[\x21-\x7e]{1,255}$/;

/** What identifies one idempotent write: its route, the client's key and the body's hash. */
export interface IdempotencyRequest {
  /** `POST /api/v1/readings`. */
  scope: string;
  key: string;
  /** SHA-256 (hex) of the body as parsed. */
  fingerprint: string;
}

/** A key used again with another body (or on a request already running, `inProgress`). */
export class IdempotencyConflict extends Error {
  constructor(readonly key: string, readonly inProgress = false) {
    super(
      inProgress
        ? `A request with Idempotency-Key '${key}' is still being processed; retry later`
        : `Idempotency-Key '${key}' was used with a different request body`,
    );
    this.name = "IdempotencyConflict";
  }
}

/** The HTTP error of an {@link IdempotencyConflict}. */
export function idempotencyError(conflict: IdempotencyConflict): HttpError {
  return conflict.inProgress
    ? new HttpError(409, "idempotency_in_progress", conflict.message)
    : new HttpError(422, "idempotency_key_reused", conflict.message, [{
      field: IDEMPOTENCY_HEADER,
      rule: "idempotency_key_reused",
      message: "was used before with a different body; use a new key for a new request",
    }]);
}

/** SHA-256 (hex) of a parsed body, stable for equal JSON. */
export function fingerprint(body: unknown): string {
  return createHash("sha256").update(JSON.stringify(body) ?? "").digest("hex");
}

/**
 * The request's `Idempotency-Key` for a write to `scope`, with the body's fingerprint, or
 * undefined when it has none.
 * @throws HttpError 400 for a key that is not 1–255 printable ASCII characters.
 */
export function idempotencyOf(
  request: Request,
  scope: string,
  body: unknown,
): IdempotencyRequest | undefined {
  const key = request.headers.get(IDEMPOTENCY_HEADER);
  if (key === null) return undefined;
  if (!KEY.test(key)) {
    throw new HttpError(
      400,
      "bad_idempotency_key",
      "Idempotency-Key must be 1-255 printable ASCII characters without spaces",
    );
  }
  return { scope, key, fingerprint: fingerprint(body) };
}

/** Where the cloud keeps keys: one answer per (scope, key). */
export interface IdempotencyRecords {
  /**
   * Claims `request` for a first run (`{ state: "new" }`), or reports the stored answer, a run
   * in progress, or a mismatching body. Expired keys count as absent.
   */
  claimIdempotencyKey(
    request: IdempotencyRequest,
    now: number,
  ): Promise<
    | { state: "new" }
    | { state: "done"; status: number; body: string }
    | { state: "running" }
    | { state: "mismatch" }
  >;
  /** Stores the first answer of a claimed key. */
  completeIdempotencyKey(request: IdempotencyRequest, status: number, body: string): Promise<void>;
  /** Forgets a claimed key whose request failed (5xx), so a retry runs again. */
  releaseIdempotencyKey(request: IdempotencyRequest): Promise<void>;
}

/** Options of {@link idempotencyKeys}. */
export interface IdempotencyKeysOptions {
  records: IdempotencyRecords;
  /** Paths whose POSTs do not take a key (their answers hold secrets the cloud never stores). */
  exclude?: (path: string) => boolean;
  now?: () => number;
}

/**
 * Middleware: a POST with `Idempotency-Key` runs once per key; a retry gets the first answer
 * (status and body, with `Idempotent-Replayed: true`). Only successful (2xx) answers are kept:
 * a request that failed stored nothing and may run again. The key is claimed before the
 * handler runs, so a concurrent retry gets 409 rather than a second write.
 */
export function idempotencyKeys(options: IdempotencyKeysOptions): MiddlewareHandler {
  const now = options.now ?? Date.now;
  return async function applyIdempotencyKey(c, next) {
    if (c.req.method !== "POST" || !c.req.header(IDEMPOTENCY_HEADER)) return await next();
    if (options.exclude?.(c.req.path)) {
      throw new HttpError(
        400,
        "idempotency_not_supported",
        `POST ${c.req.path} does not take an Idempotency-Key: its answer holds a secret the cloud does not keep`,
      );
    }
    // A copy of the body for the fingerprint; the route reads the original.
    const raw = Buffer.from(await c.req.raw.clone().arrayBuffer()).toString("utf8");
    let body: unknown = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      // not JSON: the route answers 400; the fingerprint is of the text
    }
    const request = idempotencyOf(c.req.raw, `POST ${c.req.path}`, body)!;
    const claim = await options.records.claimIdempotencyKey(request, now());
    if (claim.state === "mismatch") throw idempotencyError(new IdempotencyConflict(request.key));
    if (claim.state === "running") {
      throw idempotencyError(new IdempotencyConflict(request.key, true));
    }
    if (claim.state === "done") {
      return c.body(claim.body, claim.status as 200, {
        "content-type": "application/json",
        [REPLAYED_HEADER]: "true",
      });
    }
    try {
      await next();
    } finally {
      // Hono turns a thrown error into its error answer before this point; only a write that
      // succeeded is kept, so a request that failed (4xx or 5xx) may be retried with its key.
      if (c.res.status < 200 || c.res.status > 299) {
        await options.records.releaseIdempotencyKey(request).catch(() => {});
      }
    }
    if (c.res.status >= 200 && c.res.status <= 299) {
      const text = await c.res.clone().text();
      await options.records.completeIdempotencyKey(request, c.res.status, text);
    }
  };
}
