/**
 * The agent's Hono app, built by a factory so tests drive it with `app.request()`.
 * @module
 */
import { installSystemRoutes } from "@outpost/platform/system_routes";
import { Hono } from "hono";
import { bearerAuth, readinessGate } from "@outpost/platform/http_middleware";
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import type { Tracing } from "@outpost/platform/trace";
import type { AgentStore } from "../store/store.ts";
import { eventsDocs, eventsRoutes } from "./events.ts";
import { readingsDocs, readingsRoutes } from "./readings.ts";
import { type SyncConnection, unenrolledConnection } from "../sync/state.ts";
import { statusDocs, statusRoutes } from "./status.ts";
import type { TimeWindow } from "./time_window.ts";

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
  /** The plausible window of client-supplied `ts` values around the agent's clock. */
  timeWindow?: TimeWindow;
  /** Extra routes (the web UI) mounted at `/`. */
  ui?: Hono;
  /**
   * Authorizes a mutating API request that has no bearer token: the web UI's session cookie
   * plus its CSRF header, so islands can post JSON for a logged-in user.
   */
  sessionAuth?: (request: Request) => boolean;
  /** With tracing on: a span per request and per store write. */
  tracing?: Tracing;
}

const MUTATING = ["POST", "PUT", "PATCH", "DELETE"];

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
    readyFields: { deviceId: options.deviceId },
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
