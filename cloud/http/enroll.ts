/**
 * `POST /api/v1/enroll`: a device gets its broker credentials. Who may enroll which device id
 * is `cloud/fleet/enrollment.ts`; this module is the HTTP shape: 200 credentials, 202 a request
 * waiting for an operator, and refusals as statuses (see {@link enrollmentHttpError}).
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { readJsonBody, validate } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import { type Enrollment, type EnrollmentRefusal, EnrollmentRefused } from "../fleet/enrollment.ts";
import { EnrollPending, EnrollRequest, EnrollResponse as EnrollResponseSchema } from "./schemas.ts";

export type { PublicBroker } from "../fleet/enrollment.ts";

/** Dependencies of {@link enrollRoutes}. */
export interface EnrollRoutesOptions {
  enrollment: Enrollment;
}

const MAX_ENROLL_BODY_BYTES = 16 * 1024;

/** The HTTP status of each refusal. */
const REFUSAL_STATUS: Record<EnrollmentRefusal, number> = {
  unauthorized: 401,
  token_expired: 401,
  token_revoked: 401,
  token_used_up: 401,
  device_exists: 409,
  device_revoked: 403,
  device_decommissioned: 403,
  enrollment_rejected: 403,
  enrollment_conflict: 409,
};

/** The HTTP error of a refused enrollment, or undefined for any other error. */
export function enrollmentHttpError(error: unknown): HttpError | undefined {
  if (!(error instanceof EnrollmentRefused)) return undefined;
  return new HttpError(REFUSAL_STATUS[error.code], error.code, error.message);
}

/** The enrollment route, mounted under `/api/v1`. */
export function enrollRoutes(options: EnrollRoutesOptions): Hono {
  const app = new Hono();
  app.post("/enroll", async (c) => {
    const body = validate(EnrollRequest, await readJsonBody(c.req.raw, MAX_ENROLL_BODY_BYTES));
    const address = c.req.header("x-real-ip")?.slice(0, 64);
    const result = await options.enrollment.enroll(body, { address });
    c.header("Cache-Control", "no-store");
    if (result.kind === "pending") {
      c.header("Retry-After", "30");
      return c.json(result.pending, 202);
    }
    return c.json(result.response);
  });
  return app;
}

/** OpenAPI description of {@link enrollRoutes}. */
export const enrollDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/enroll",
    summary:
      "Enroll a device: an enrollment token creates it; its device secret re-enrolls it (new credentials, the old session ended); an existing id without its secret waits for approval",
    tags: ["enrollment"],
    body: EnrollRequest,
    responses: {
      200: {
        description: "Enrolled: MQTT credentials (created, or re-enrolled with the device secret)",
        schema: EnrollResponseSchema,
      },
      202: {
        description:
          "The id exists and the request did not prove to be that device: an enrollment request waits for an operator; retry the same request to learn the outcome",
        schema: EnrollPending,
      },
      401: {
        description:
          "unauthorized (no or a wrong token), token_expired, token_revoked, token_used_up",
      },
      403: { description: "device_revoked, device_decommissioned, enrollment_rejected" },
      409: {
        description:
          "device_exists (an existing id and no device secret), device_id_taken (a broker user that is not a device), enrollment_conflict",
      },
      422: {
        description:
          "validation_failed (a bad field), device_id_unsupported (the broker cannot serve this id: with NATS, ids must not contain '.')",
      },
      503: { description: "broker_unavailable, provisioning_unavailable: retry later" },
    },
  },
];
