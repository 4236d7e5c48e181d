/**
 * The agent's Hono app, built by a factory so tests drive it with `app.request()`.
 * @module
 */
import { Hono } from "hono";
import {
  bearerAuth,
  errorHandler,
  notFoundHandler,
  readinessGate,
  requestMetrics,
  securityHeaders,
} from "../lib/http_middleware.ts";
import type { Logger } from "../lib/log.ts";
import { type MetricsRegistry, registerProcessMetrics } from "../lib/metrics.ts";
import { buildOpenApiDocument, type RouteDoc } from "../lib/openapi.ts";
import type { AgentStore } from "../store/store.ts";
import { eventsDocs, eventsRoutes } from "./events.ts";
import { readingsDocs, readingsRoutes } from "./readings.ts";
import { HealthOutput } from "./schemas.ts";
import { statusDocs, statusRoutes, type SyncConnection, unenrolledConnection } from "./status.ts";

/** Dependencies of {@link createAgentApp}. */
export interface AgentAppOptions {
  store: AgentStore;
  logger: Logger;
  metrics: MetricsRegistry;
  version: string;
  deviceId: string;
  /** When set, mutating API requests need `Authorization: Bearer <apiToken>`. */
  apiToken?: string;
  /** False until the database is open and migrated. */
  isReady?: () => boolean;
  connection?: () => SyncConnection;
  maxBodyBytes?: number;
  /** Extra routes (the web UI) mounted at `/`. */
  ui?: Hono;
  /**
   * Authorizes a mutating API request that has no bearer token: the web UI's session cookie
   * plus its CSRF header, so islands can post JSON for a logged-in user.
   */
  sessionAuth?: (request: Request) => boolean;
}

const MUTATING = ["POST", "PUT", "PATCH", "DELETE"];

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

/** Builds the agent app: system endpoints, the `/api/v1` routes and (optionally) the UI. */
export function createAgentApp(options: AgentAppOptions): Hono {
  const isReady = options.isReady ?? (() => true);
  const app = new Hono();
  const readingsWritten = options.metrics.counter(
    "outpost_readings_written_total",
    "Readings stored on this device.",
  );
  const eventsWritten = options.metrics.counter(
    "outpost_events_written_total",
    "Events stored on this device.",
  );
  options.metrics.gauge(
    "outpost_outbox_pending",
    "Outbox records not yet acked.",
    async (gauge) => {
      if (isReady()) gauge.set((await options.store.outboxStats()).pending);
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
    return c.json({ status: "ready", deviceId: options.deviceId });
  });
  app.get("/metrics", async (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(await options.metrics.render());
  });

  const document = buildOpenApiDocument(
    {
      title: "Outpost agent API",
      version: options.version,
      description: "Local REST API of an Outpost edge agent. Errors use the JSON envelope.",
    },
    [...systemDocs, ...readingsDocs, ...eventsDocs, ...statusDocs],
  );
  app.get("/api/openapi.json", (c) => c.json(document));

  app.use("/api/v1/*", readinessGate(isReady));
  const requireBearer = bearerAuth({ token: options.apiToken, methods: MUTATING });
  const sessionAuth = options.sessionAuth;
  app.use(
    "/api/*",
    sessionAuth
      ? async function requireBearerOrSession(c, next) {
        if (sessionAuth(c.req.raw)) return await next();
        return await requireBearer(c, next);
      }
      : requireBearer,
  );
  const maxBodyBytes = options.maxBodyBytes;
  app.route("/api/v1", readingsRoutes({ store: options.store, readingsWritten, maxBodyBytes }));
  app.route("/api/v1", eventsRoutes({ store: options.store, eventsWritten, maxBodyBytes }));
  app.route(
    "/api/v1",
    statusRoutes({ store: options.store, connection: options.connection ?? unenrolledConnection }),
  );
  if (options.ui) app.route("/", options.ui);
  return app;
}
