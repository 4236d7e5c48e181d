/**
 * `POST /api/v1/enroll`: a device presents the bootstrap token and gets its broker
 * credentials. Re-enrolling rotates the password and keeps the device's data.
 * @module
 */
import { Hono } from "hono";
import { secretsEqual } from "@outpost/platform/constant_time";
import { HttpError } from "@outpost/platform/http_error";
import { readJsonBody, validate } from "@outpost/platform/json_body";
import type { Logger } from "@outpost/platform/log";
import type { Counter } from "@outpost/platform/metrics";
import type { RouteDoc } from "@outpost/platform/openapi";
import type { EnrollResponse } from "@outpost/protocol";
import {
  type DeviceCredentialsProvisioner,
  ProvisioningError,
  type ProvisioningFailure,
} from "../broker/credentials.ts";
import type { CloudStore } from "../store/store.ts";
import { EnrollRequest, EnrollResponse as EnrollResponseSchema } from "./schemas.ts";

/** The broker as devices should reach it. */
export interface PublicBroker {
  url: string;
  protocolVersion: 4 | 5;
}

/** Dependencies of {@link enrollRoutes}. */
export interface EnrollRoutesOptions {
  store: CloudStore;
  provisioner: DeviceCredentialsProvisioner;
  enrollToken: string;
  broker: PublicBroker;
  logger: Logger;
  enrollments: Counter;
}

const MAX_ENROLL_BODY_BYTES = 16 * 1024;

/** The HTTP status of each provisioning failure. */
const PROVISIONING_STATUS: Record<ProvisioningFailure, number> = {
  broker_unavailable: 503,
  provisioning_unavailable: 503,
  device_id_taken: 409,
  device_disabled: 403,
};

/** The enrollment route, mounted under `/api/v1`. */
export function enrollRoutes(options: EnrollRoutesOptions): Hono {
  const app = new Hono();
  app.post("/enroll", async (c) => {
    const body = validate(EnrollRequest, await readJsonBody(c.req.raw, MAX_ENROLL_BODY_BYTES));
    if (!secretsEqual(body.token, options.enrollToken)) {
      options.enrollments.inc({ result: "bad_token" });
      options.logger.warn("enrollment refused: wrong token", { deviceId: body.deviceId });
      throw new HttpError(401, "unauthorized", "Invalid enrollment token");
    }
    const credentials = await options.provisioner.provision(body.deviceId).catch((error) => {
      if (!(error instanceof ProvisioningError)) {
        options.enrollments.inc({ result: "error" });
        throw error;
      }
      options.enrollments.inc({ result: error.code });
      throw new HttpError(PROVISIONING_STATUS[error.code], error.code, error.message);
    });
    const { created, ackedSeq } = await options.store.enrollDevice({
      id: body.deviceId,
      passwordHash: credentials.passwordHash,
      labels: body.labels,
      arch: body.arch,
      version: body.version,
      ackedSeq: body.ackedSeq,
    });
    options.enrollments.inc({ result: created ? "created" : "rotated" });
    options.logger.info(created ? "device enrolled" : "device re-enrolled; password rotated", {
      deviceId: body.deviceId,
      arch: body.arch,
      version: body.version,
    });
    const response: EnrollResponse = {
      deviceId: body.deviceId,
      mqtt: {
        url: options.broker.url,
        username: credentials.username,
        password: credentials.password,
        protocolVersion: options.broker.protocolVersion,
      },
      ackedSeq,
    };
    c.header("Cache-Control", "no-store");
    return c.json(response);
  });
  return app;
}

/** OpenAPI description of {@link enrollRoutes}. */
export const enrollDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/enroll",
    summary: "Enroll a device with the bootstrap token; returns its MQTT credentials",
    tags: ["devices"],
    body: EnrollRequest,
    responses: {
      200: {
        description: "Enrolled (or re-enrolled: password rotated)",
        schema: EnrollResponseSchema,
      },
    },
  },
];
