/**
 * The agent's Hono app, built by a factory so tests drive it with `app.request()`.
 * @module
 */
import { installSystemRoutes } from "@outpost/platform/system_routes";
import { Hono } from "hono";
import {
  bearerAuth,
  errorHandler,
  notFoundHandler,
  readinessGate,
} from "@outpost/platform/http_middleware";
import { HttpError, toHttpError } from "@outpost/platform/http_error";
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import type { Tracing } from "@outpost/platform/trace";
import type { AgentStore } from "../store/store.ts";
import { eventsDocs, eventsRoutes } from "./events.ts";
import { readingsDocs, readingsRoutes } from "./readings.ts";
import { type SyncConnection, unenrolledConnection } from "../sync/state.ts";
import { statusDocs, statusRoutes } from "./status.ts";
import type { TimeWindow } from "./time_window.ts";
import { gateRequests, WorkGate } from "./work_gate.ts";
import { DEFAULT_MAX_BODY_BYTES } from "@outpost/platform/json_body";

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
  /** The secrets the agent needs and does not have, listed in `/readyz` (config/secrets.ts). */
  missingSecrets?: () => readonly string[];
  maxBodyBytes?: number;
  /** The plausible window of client-supplied `ts` values around the agent's clock. */
  timeWindow?: TimeWindow;
  /**
   * Bytes of request bodies worked on at once (declared sizes; default
   * {@link DEFAULT_WRITE_BUDGET_BYTES}). Writes past it wait unread; see `work_gate.ts`.
   */
  writeBudgetBytes?: number;
  /** Writes that may wait for the budget before the agent answers 503 `busy`. */
  writeQueue?: number;
  /** Extra routes (the web UI) mounted at `/`. */
  ui?: Hono;
  /**
   * The page a browser gets for a 404 or an error outside `/api/` (when it accepts
   * `text/html`); API clients and `/api/` always get the JSON envelope.
   */
  errorPage?: (request: Request, error: HttpError) => Response;
  /**
   * Authorizes a mutating API request that has no bearer token: the web UI's session cookie
   * plus its CSRF header, so islands can post JSON for a logged-in user.
   */
  sessionAuth?: (request: Request) => boolean;
  /** With tracing on: a span per request and per store write. */
  tracing?: Tracing;
}

const MUTATING = ["POST", "PUT", "PATCH", "DELETE"];

/**
 * Request bodies worked on at once: one batch of 10,000 readings is 0.9-1.7 MB, so about one
 * or two at a time. More buys no throughput (SQLite commits one write at a time and the agent
 * validates on one thread) and costs ~6x the body in transient heap per request: 20 clients
 * posting such batches together peaked at 166-177 MiB without the bound and ~140 with it, the
 * pod's limit being 160 MiB (docs/PERFORMANCE.md).
 */
export const DEFAULT_WRITE_BUDGET_BYTES = 2 * 1024 * 1024;

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
  installSystemRoutes(app, {
    logger: options.logger,
    metrics: options.metrics,
    version: options.version,
    isReady,
    ping: () => options.store.ping(),
    // Still ready with a secret missing: the local API works without it, and readiness decides
    // whether workloads on the node reach their agent (docs/DEPLOYMENT.md, "Secrets").
    readyFields: () => ({
      deviceId: options.deviceId,
      missingSecrets: [...(options.missingSecrets?.() ?? [])],
    }),
    tracing: options.tracing,
    openApi: {
      info: {
        title: "Outpost agent API",
        version: options.version,
        description: "Local REST API of an Outpost edge agent. Errors use the JSON envelope.",
      },
      routes: [...readingsDocs, ...eventsDocs, ...statusDocs],
    },
  });

  if (options.errorPage) htmlErrorsForBrowsers(app, options.logger, options.errorPage);
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
  const { maxBodyBytes, tracing, logger, timeWindow } = options;
  const refusedBusy = options.metrics.counter(
    "outpost_http_busy_total",
    "Write requests refused with 503 busy because too many waited for their turn.",
  );
  const writes = new WorkGate({
    capacity: options.writeBudgetBytes ?? DEFAULT_WRITE_BUDGET_BYTES,
    queue: options.writeQueue ?? 512,
    what: "writes",
    onRefused: () => refusedBusy.inc(),
  });
  options.metrics.gauge(
    "outpost_http_writes_waiting",
    "Write requests waiting for their turn (their bodies not read yet).",
    (gauge) => gauge.set(writes.waiting),
  );
  // After auth, so a refused request never waits; before the routes, so no body is read yet.
  app.use("/api/v1/*", gateRequests(writes, MUTATING, maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES));
  app.route(
    "/api/v1",
    readingsRoutes({
      store: options.store,
      readingsWritten,
      maxBodyBytes,
      tracing,
      logger,
      timeWindow,
    }),
  );
  app.route(
    "/api/v1",
    eventsRoutes({
      store: options.store,
      eventsWritten,
      maxBodyBytes,
      tracing,
      logger,
      timeWindow,
    }),
  );
  app.route(
    "/api/v1",
    statusRoutes({ store: options.store, connection: options.connection ?? unenrolledConnection }),
  );
  if (options.ui) app.route("/", options.ui);
  return app;
}

/** Paths that are machine endpoints even when a browser opens them. */
const MACHINE_PATHS = /^\/(?:api\/|healthz$|readyz$|metrics$|assets\/)/;

/** True for a browser's request for a page: it accepts HTML and is not for the API. */
export function wantsHtml(request: Request): boolean {
  if (MACHINE_PATHS.test(new URL(request.url).pathname)) return false;
  return /\btext\/html\b/i.test(request.headers.get("accept") ?? "");
}

/** Replaces the envelope-only 404 and error handlers with ones that render pages for browsers. */
function htmlErrorsForBrowsers(
  app: Hono,
  logger: Logger,
  page: (request: Request, error: HttpError) => Response,
): void {
  const json = errorHandler(logger);
  app.onError(function handleErrorForBrowsers(error, c) {
    const response = json(error, c); // logs the unexpected ones
    return wantsHtml(c.req.raw) ? page(c.req.raw, toHttpError(error)) : response;
  });
  app.notFound(function notFoundForBrowsers(c) {
    if (!wantsHtml(c.req.raw)) return notFoundHandler(c);
    return page(c.req.raw, new HttpError(404, "not_found", `No page at ${c.req.path}`));
  });
}
