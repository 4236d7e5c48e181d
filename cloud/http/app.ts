/**
 * The cloud's Hono app, built by a factory so tests drive it with `app.request()`.
 * @module
 */
import { installSystemRoutes } from "@outpost/platform/system_routes";
import { Hono, type MiddlewareHandler } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { bearerAuth, readinessGate } from "@outpost/platform/http_middleware";
import { idempotencyKeys } from "@outpost/platform/idempotency";
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import type { Tracing } from "@outpost/platform/trace";
import {
  type DeviceCredentialsProvisioner,
  ProvisioningError,
  type ProvisioningFailure,
} from "../broker/credentials.ts";
import { Enrollment } from "../fleet/enrollment.ts";
import { FleetActionError, type FleetOperations } from "../fleet/operations.ts";
import { idempotencyRecords } from "../store/idempotency.ts";
import type { CloudStore } from "../store/store.ts";
import { dataDocs, dataRoutes } from "./data.ts";
import { devicesDocs, devicesRoutes } from "./devices.ts";
import { enrollDocs, enrollmentHttpError, enrollRoutes, type PublicBroker } from "./enroll.ts";
import { identityDocs, identityRoutes, TOKEN_CREATION_PATH } from "./identity.ts";
import { jobsDocs, jobsRoutes } from "./jobs.ts";
import { rolloutsDocs, rolloutsRoutes } from "./rollouts.ts";

/** Dependencies of {@link createCloudApp}. */
export interface CloudAppOptions {
  store: CloudStore;
  /** The fleet use cases the device routes call. */
  fleet: FleetOperations;
  provisioner: DeviceCredentialsProvisioner;
  logger: Logger;
  metrics: MetricsRegistry;
  version: string;
  /** Every `/api/v1` route but enrollment needs `Authorization: Bearer <adminToken>`. */
  adminToken: string;
  /** The bootstrap token devices present to enroll. */
  enrollToken: string;
  /** The broker URL and protocol handed to devices at enrollment. */
  broker: PublicBroker;
  /** False until the database is open and migrated. */
  isReady?: () => boolean;
  /** Extra routes (the fleet console) mounted at `/`. */
  ui?: Hono;
  /**
   * True when a request is authorized by a fleet console session (its cookie plus its CSRF
   * token in `X-CSRF-Token`): then the admin token is not needed, so the console's islands
   * can call the API.
   */
  sessionAuth?: (request: Request) => boolean;
  /** With tracing on, a span per request. */
  tracing?: Tracing;
}

const ENROLL_PATH = "/api/v1/enroll";

/** The HTTP status of each provisioning failure. */
const PROVISIONING_STATUS: Record<ProvisioningFailure, number> = {
  broker_unavailable: 503,
  provisioning_unavailable: 503,
  device_id_taken: 409,
  device_disabled: 403,
  // A valid id the broker cannot serve (NATS: no `.`); the message names the rule.
  device_id_unsupported: 422,
};

/**
 * The cloud's domain errors as HTTP errors: refused enrollments, broker provisioning failures
 * (the broker layer has its own errors) and operator actions that cannot be done.
 */
export function cloudHttpError(error: unknown): HttpError | undefined {
  if (error instanceof ProvisioningError) {
    return new HttpError(PROVISIONING_STATUS[error.code], error.code, error.message);
  }
  if (error instanceof FleetActionError) {
    return new HttpError(error.code === "not_found" ? 404 : 409, error.code, error.message);
  }
  return enrollmentHttpError(error);
}

/**
 * Requires the admin token (or a console session, when `sessionAuth` is given) on every
 * `/api/v1` route except enrollment (its own token).
 */
function adminAuth(
  token: string,
  sessionAuth?: (request: Request) => boolean,
): MiddlewareHandler {
  const requireBearer = bearerAuth({ token });
  return async function requireAdmin(c, next) {
    if (c.req.path === ENROLL_PATH || sessionAuth?.(c.req.raw)) return await next();
    return await requireBearer(c, next);
  };
}

/** Builds the cloud app: system endpoints, the `/api/v1` routes and (optionally) the UI. */
export function createCloudApp(options: CloudAppOptions): Hono {
  const isReady = options.isReady ?? (() => true);
  const app = new Hono();
  const enrollments = options.metrics.counter(
    "outpost_enrollments_total",
    "Enrollment requests by result: created, rotated, pending (held for approval), refused, " +
      "bad_token, or the provisioning failure (broker_unavailable, provisioning_unavailable, " +
      "device_id_taken, device_disabled, device_id_unsupported, error).",
  );
  const enrollment = new Enrollment({
    store: options.store,
    provisioner: options.provisioner,
    bootstrapToken: options.enrollToken,
    broker: options.broker,
    logger: options.logger.child({ part: "enrollment" }),
    enrollments,
  });
  options.metrics.gauge(
    "outpost_devices_online",
    "Devices whose presence is online.",
    async (g) => {
      if (isReady()) g.set(await options.store.countOnline());
    },
  );
  installSystemRoutes(app, {
    logger: options.logger,
    metrics: options.metrics,
    version: options.version,
    isReady,
    ping: () => options.store.ping(),
    tracing: options.tracing,
    openApi: {
      info: {
        title: "Outpost cloud API",
        version: options.version,
        description:
          "Enrollment, fleet, ingested data, desired state, commands, labels, rollouts and jobs. Errors use the JSON envelope.",
      },
      routes: [
        ...enrollDocs,
        ...identityDocs,
        ...devicesDocs,
        ...rolloutsDocs,
        ...jobsDocs,
        ...dataDocs,
      ],
    },
    mapError: cloudHttpError,
  });

  app.use("/api/v1/*", readinessGate(isReady));
  app.use("/api/v1/*", adminAuth(options.adminToken, options.sessionAuth));
  app.use(
    "/api/v1/*",
    idempotencyKeys({
      records: idempotencyRecords(options.store.db),
      // Their answers hold secrets the cloud does not keep (credentials, a new token); a
      // device re-enrolling with its secret is safe to retry as it is.
      exclude: (path) => path === ENROLL_PATH || path === TOKEN_CREATION_PATH,
    }),
  );
  app.route("/api/v1", enrollRoutes({ enrollment }));
  app.route(
    "/api/v1",
    identityRoutes({ enrollment, fleet: options.fleet, store: options.store }),
  );
  app.route(
    "/api/v1",
    devicesRoutes({ store: options.store, fleet: options.fleet }),
  );
  app.route("/api/v1", rolloutsRoutes({ fleet: options.fleet }));
  app.route("/api/v1", jobsRoutes({ fleet: options.fleet }));
  app.route("/api/v1", dataRoutes({ store: options.store }));
  if (options.ui) app.route("/", options.ui);
  return app;
}
