/**
 * What every Outpost HTTP app has: the error envelope for every failure, security headers,
 * request metrics, `/healthz`, `/readyz`, `/metrics` and `/api/openapi.json`.
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import {
  errorHandler,
  notFoundHandler,
  requestMetrics,
  securityHeaders,
  traceRequests,
} from "./http_middleware.ts";
import type { HttpError } from "./http_error.ts";
import type { Logger } from "./log.ts";
import { type MetricsRegistry, registerProcessMetrics } from "./metrics.ts";
import { buildOpenApiDocument, type OpenApiInfo, type RouteDoc } from "./openapi.ts";
import type { Tracing } from "./trace.ts";

const HealthOutput = z.object({ status: z.string() }).passthrough();

/** OpenAPI description of the system endpoints. */
export const systemDocs: RouteDoc[] = [
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

/** Options of {@link installSystemRoutes}. */
export interface SystemRoutesOptions {
  logger: Logger;
  metrics: MetricsRegistry;
  version: string;
  isReady: () => boolean;
  /** Throws when the database does not answer. */
  ping: () => Promise<unknown>;
  /** Extra fields of a ready `/readyz` answer (computed per request when a function). */
  readyFields?: Record<string, unknown> | (() => Record<string, unknown>);
  openApi: { info: OpenApiInfo; routes: RouteDoc[] };
  /** With tracing on, every request gets a server span. */
  tracing?: Tracing;
  /** Maps the app's domain errors to HTTP errors (see `errorHandler`). */
  mapError?: (error: unknown) => HttpError | undefined;
}

/** Installs error mapping, middleware and the system endpoints; call before other routes. */
export function installSystemRoutes(app: Hono, options: SystemRoutesOptions): void {
  registerProcessMetrics(options.metrics);
  app.onError(errorHandler(options.logger, options.mapError));
  app.notFound(notFoundHandler);
  if (options.tracing?.enabled) app.use("*", traceRequests(options.tracing));
  app.use("*", securityHeaders());
  app.use("*", requestMetrics(options.metrics));

  app.get("/healthz", (c) => c.json({ status: "ok", version: options.version }));
  app.get("/readyz", async (c) => {
    if (!options.isReady()) {
      return c.json({
        error: { code: "not_ready", message: "Database migrations are not done yet" },
      }, 503);
    }
    await options.ping();
    const fields = typeof options.readyFields === "function"
      ? options.readyFields()
      : options.readyFields;
    return c.json({ status: "ready", ...fields });
  });
  app.get("/metrics", async (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(await options.metrics.render());
  });
  const document = buildOpenApiDocument(options.openApi.info, [
    ...systemDocs,
    ...options.openApi.routes,
  ]);
  app.get("/api/openapi.json", (c) => c.json(document));
}
