/**
 * The fleet use cases' own failures, which the HTTP layer maps to 404/409 and the console to a
 * message on the page.
 * @module
 */

/** Why a fleet operation was refused. */
export type FleetFailure = "not_found" | "conflict";

/** A refused fleet operation (an unknown rollout or job, or one in the wrong state). */
export class FleetError extends Error {
  readonly code: FleetFailure;

  constructor(code: FleetFailure, message: string) {
    super(message);
    this.name = "FleetError";
    this.code = code;
  }
}
