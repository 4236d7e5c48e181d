/**
 * The cloud's Hono app, built by a factory so tests drive it with `app.request()`.
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import {
  bearerAuth,
  errorHandler,
  notFoundHandler,
  readinessGate,
  requestMetrics,
  securityHeaders,
} from "../../agent/lib/http_middleware.ts";
import type { Logger } from "../../agent/lib/log.ts";
import { type MetricsRegistry, registerProcessMetrics } from "../../agent/lib/metrics.ts";
import { buildOpenApiDocument, type RouteDoc } from "../../agent/lib/openapi.ts";
import type { DeviceCredentialsProvisioner } from "../broker/credentials.ts";
import type { Downlink } from "../broker/downlink.ts";
import type { CloudStore } from "../store/store.ts";
import { dataDocs, dataRoutes } from "./data.ts";
import { devicesDocs, devicesRoutes } from "./devices.ts";
import { enrollDocs, enrollRoutes, type PublicBroker } from "./enroll.ts";

/** Dependencies of {@link createCloudApp}. */
export interface CloudAppOptions {
  store: CloudStore;
  downlink: Downlink;
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
}

const HealthOutput = z.object({ status: z.string() }).passthrough();

const systemDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/healthz",
    summary: "Liveness: the process serves HTTP",
    tags: ["system"],
    responses: { 200: { description: "Alive", schema: HealthOutput } },
  },
  {
    method: "get",
    path: "/readyz",
    summary: "Readiness: database open and migrations done",
    tags: ["system"],
    responses: { 200: { description: "Ready", schema: HealthOutput } },
  },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics",
    tags: ["system"],
    responses: { 200: { description: "Prometheus text format", contentType: "text/plain" } },
  },
];

const ENROLL_PATH = "/api/v1/enroll";

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
    "Enrollment requests by result (created, rotated, bad_token).",
  );
  options.metrics.gauge(
    "outpost_devices_online",
    "Devices whose presence is online.",
    async (g) => {
      if (isReady()) g.set(await options.store.countOnline());
    },
  );
  registerProcessMetrics(options.metrics);

  app.onError(errorHandler(options.logger));
  app.notFound(notFoundHandler);
  app.use("*", securityHeaders());
  app.use("*", requestMetrics(options.metrics));

  app.get("/healthz", (c) => c.json({ status: "ok", version: options.version }));
  app.get("/readyz", async (c) => {
    if (!isReady()) {
      return c.json({
        error: { code: "not_ready", message: "Database migrations are not done yet" },
      }, 503);
    }
    await options.store.ping();
    return c.json({ status: "ready" });
  });
  app.get("/metrics", async (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(await options.metrics.render());
  });

  const document = buildOpenApiDocument(
    {
      title: "Outpost cloud API",
      version: options.version,
      description:
        "Enrollment, fleet, ingested data, desired state and commands. Errors use the JSON envelope.",
    },
    [...systemDocs, ...enrollDocs, ...devicesDocs, ...dataDocs],
  );
  app.get("/api/openapi.json", (c) => c.json(document));

  app.use("/api/v1/*", readinessGate(isReady));
  app.use("/api/v1/*", adminAuth(options.adminToken, options.sessionAuth));
  app.route(
    "/api/v1",
    enrollRoutes({
      store: options.store,
      provisioner: options.provisioner,
      enrollToken: options.enrollToken,
      broker: options.broker,
      logger: options.logger,
      enrollments,
    }),
  );
  app.route(
    "/api/v1",
    devicesRoutes({ store: options.store, downlink: options.downlink, logger: options.logger }),
  );
  app.route("/api/v1", dataRoutes({ store: options.store }));
  if (options.ui) app.route("/", options.ui);
  return app;
}
