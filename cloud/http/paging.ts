/**
 * Cursors of the rollout and job lists (newest first: keyset on creation time and id), and the
 * mapping of the fleet use cases' failures to HTTP.
 * @module
 */
import { HttpError } from "@outpost/platform/http_error";
import { FleetError } from "../fleet/errors.ts";

/** Where a page of a newest-first list ended. */
export interface ListPosition {
  createdAt: number;
  id: string;
}

/** The opaque cursor of `position`. */
export function encodeListCursor(position: ListPosition): string {
  return btoa(JSON.stringify([position.createdAt, position.id])).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The position a cursor names.
 * @throws HttpError 422 when it is not a cursor this API handed out.
 */
export function decodeListCursor(cursor: string): ListPosition {
  try {
    const [createdAt, id] = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (Number.isSafeInteger(createdAt) && typeof id === "string" && id.length <= 100) {
      return { createdAt, id };
    }
  } catch {
    // reported below
  }
  throw badCursor(cursor);
}

/** The 422 of a cursor this API did not hand out. */
export function badCursor(cursor: string): HttpError {
  return new HttpError(422, "validation_failed", "Request query is invalid: 1 problem", [
    { field: "cursor", message: `'${cursor.slice(0, 80)}' is not a cursor this API handed out` },
  ]);
}

/** Runs a fleet use case; its refusals become 404 (unknown) and 409 (wrong state). */
export async function fleetCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof FleetError) {
      throw error.code === "not_found"
        ? new HttpError(404, "not_found", error.message)
        : new HttpError(409, "conflict", error.message);
    }
    throw error;
  }
}
