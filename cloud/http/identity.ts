/**
 * The operator's side of device identity: enrollment tokens
 * (`POST/GET /api/v1/enrollment-tokens`, `GET/DELETE /api/v1/enrollment-tokens/:id`) and
 * enrollment requests awaiting a decision (`GET /api/v1/enrollment-requests`,
 * `POST /api/v1/enrollment-requests/:id/approve|reject`).
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { readJsonBody, validate } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import type { Enrollment } from "../fleet/enrollment.ts";
import type { FleetOperations } from "../fleet/operations.ts";
import type { CloudStore } from "../store/store.ts";
import {
  EnrollmentRequestOutput,
  EnrollmentRequestsList,
  EnrollmentRequestsQueryParams,
  EnrollmentTokenCreated,
  EnrollmentTokenInput,
  EnrollmentTokenOutput,
  EnrollmentTokensList,
} from "./schemas.ts";

/** Dependencies of {@link identityRoutes}. */
export interface IdentityRoutesOptions {
  enrollment: Pick<Enrollment, "createToken">;
  fleet: Pick<FleetOperations, "decideRequest">;
  store: Pick<
    CloudStore,
    | "listEnrollmentTokens"
    | "getEnrollmentToken"
    | "revokeEnrollmentToken"
    | "listEnrollmentRequests"
  >;
}

/** Paths whose POSTs take no Idempotency-Key: the answer holds a token the cloud does not keep. */
export const TOKEN_CREATION_PATH = "/api/v1/enrollment-tokens";

const ID = /^[\w-]{1,64}$/;

function noToken(id: string): HttpError {
  return new HttpError(404, "not_found", `No enrollment token with id '${id.slice(0, 80)}'`);
}

/** The routes, mounted under `/api/v1`. */
export function identityRoutes(options: IdentityRoutesOptions): Hono {
  const { store } = options;
  const app = new Hono();

  app.post("/enrollment-tokens", async (c) => {
    const input = validate(EnrollmentTokenInput, await readJsonBody(c.req.raw, 16 * 1024));
    const expiresAt = input.expiresAt === undefined ? undefined : Date.parse(input.expiresAt);
    const { token, view } = await options.enrollment.createToken({ ...input, expiresAt });
    c.header("Cache-Control", "no-store");
    c.header("Location", `/api/v1/enrollment-tokens/${view.id}`);
    return c.json({ ...view, token }, 201);
  });

  app.get("/enrollment-tokens", async (c) => c.json({ items: await store.listEnrollmentTokens() }));

  app.get("/enrollment-tokens/:id", async (c) => {
    const id = c.req.param("id");
    const token = ID.test(id) ? await store.getEnrollmentToken(id) : undefined;
    if (!token) throw noToken(id);
    return c.json(token);
  });

  app.delete("/enrollment-tokens/:id", async (c) => {
    const id = c.req.param("id");
    const token = ID.test(id) ? await store.revokeEnrollmentToken(id) : undefined;
    if (!token) throw noToken(id);
    return c.json(token);
  });

  app.get("/enrollment-requests", async (c) => {
    const query = validate(EnrollmentRequestsQueryParams, c.req.query(), "query");
    const items = await store.listEnrollmentRequests({
      status: query.status ?? "pending",
      deviceId: query.device,
      limit: query.limit,
    });
    return c.json({ items });
  });

  for (const [action, decision] of [["approve", "approved"], ["reject", "rejected"]] as const) {
    app.post(`/enrollment-requests/:id/${action}`, async (c) => {
      const id = c.req.param("id");
      if (!ID.test(id)) {
        throw new HttpError(404, "not_found", `No enrollment request with id '${id.slice(0, 80)}'`);
      }
      return c.json(await options.fleet.decideRequest(id, decision));
    });
  }

  return app;
}

/** OpenAPI description of {@link identityRoutes}. */
export const identityDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/enrollment-tokens",
    summary:
      "Create a scoped enrollment token (labels, expiry, use count); the token is in this answer only. Takes no Idempotency-Key (400 idempotency_not_supported): the cloud does not keep the token to replay it",
    tags: ["enrollment"],
    body: EnrollmentTokenInput,
    secured: true,
    responses: { 201: { description: "Created", schema: EnrollmentTokenCreated } },
  },
  {
    method: "get",
    path: "/api/v1/enrollment-tokens",
    summary: "Enrollment tokens, newest first, with their state and use count",
    tags: ["enrollment"],
    secured: true,
    responses: { 200: { description: "Tokens", schema: EnrollmentTokensList } },
  },
  {
    method: "get",
    path: "/api/v1/enrollment-tokens/:id",
    summary: "One enrollment token",
    tags: ["enrollment"],
    secured: true,
    responses: { 200: { description: "The token", schema: EnrollmentTokenOutput } },
  },
  {
    method: "delete",
    path: "/api/v1/enrollment-tokens/:id",
    summary:
      "Revoke an enrollment token: it creates no device from now on (devices it created stay enrolled)",
    tags: ["enrollment"],
    secured: true,
    responses: { 200: { description: "Revoked", schema: EnrollmentTokenOutput } },
  },
  {
    method: "get",
    path: "/api/v1/enrollment-requests",
    summary: "Enrollment requests (default: pending), most recent attempt first",
    tags: ["enrollment"],
    query: EnrollmentRequestsQueryParams,
    secured: true,
    responses: { 200: { description: "Requests", schema: EnrollmentRequestsList } },
  },
  {
    method: "post",
    path: "/api/v1/enrollment-requests/:id/approve",
    summary:
      "Approve: the requester becomes the device (its secret is the device's, the current broker credentials are revoked, its next attempt gets new ones); the device's other pending requests are rejected",
    tags: ["enrollment"],
    idempotent: true,
    secured: true,
    responses: {
      200: { description: "Approved", schema: EnrollmentRequestOutput },
      409: { description: "conflict: already rejected, or the device is not active" },
    },
  },
  {
    method: "post",
    path: "/api/v1/enrollment-requests/:id/reject",
    summary: "Reject: the requester's retries get 403 enrollment_rejected",
    tags: ["enrollment"],
    idempotent: true,
    secured: true,
    responses: {
      200: { description: "Rejected", schema: EnrollmentRequestOutput },
      409: { description: "conflict: already approved" },
    },
  },
];
