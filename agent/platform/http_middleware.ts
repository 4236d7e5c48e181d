/**
 * Hono middleware shared by the agent and the cloud: request metrics, bearer auth, readiness
 * gate, and the mapping of every error to the JSON envelope.
 * @module
 */
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from "hono";
import { routePath } from "hono/route";
import { secretsEqual } from "./constant_time.ts";
import { HttpError, toHttpError } from "./http_error.ts";
import type { Logger } from "./log.ts";
import type { BoundCounter, BoundHistogram, MetricsRegistry } from "./metrics.ts";
import type { Tracing } from "./trace.ts";

/** Responds with an {@link HttpError} as the JSON envelope. */
export function errorResponse(c: Context, error: HttpError): Response {
  return c.json(error.toEnvelope(), error.status as 400);
}

/**
 * `app.onError`: maps thrown errors to the envelope and logs the unexpected ones. `mapError`
 * turns an app's own domain errors into HTTP errors first (undefined: not one of them).
 */
export function errorHandler(
  logger: Logger,
  mapError?: (error: unknown) => HttpError | undefined,
): ErrorHandler {
  return function handleError(error, c) {
    const httpError = mapError?.(error) ?? toHttpError(error);
    if (httpError.status >= 500) {
      logger.error("request failed", {
        method: c.req.method,
        path: c.req.path,
        status: httpError.status,
        error,
      });
    }
    return errorResponse(c, httpError);
  };
}

/** `app.notFound`: 404 in the envelope. */
export const notFoundHandler: NotFoundHandler = function notFound(c) {
  return errorResponse(
    c,
    new HttpError(404, "not_found", `No route for ${c.req.method} ${c.req.path}`),
  );
};

/** Counts requests by method, route and status and times them. */
export function requestMetrics(registry: MetricsRegistry): MiddlewareHandler {
  const requests = registry.counter(
    "http_requests_total",
    "HTTP requests by method, route and status.",
  );
  const duration = registry.histogram(
    "http_request_duration_seconds",
    "HTTP request duration in seconds by method and route.",
  );
  // Series resolved once per method, route and status: a request then costs two map lookups
  // and no label strings (the agent's hot GET spent more on labels than on its cache lookup).
  const bound = new Map<string, { requests: BoundCounter; duration: BoundHistogram }>();
  return async function recordRequest(c, next) {
    const start = performance.now();
    await next();
    const method = c.req.method;
    const status = c.res.status;
    const path = routePath(c, -1);
    const route = status === 404 && (path === "*" || path === "/*") ? "unmatched" : path;
    const key = `${method} ${status} ${route}`;
    let series = bound.get(key);
    if (!series) {
      series = {
        requests: requests.bind({ method, route, status }),
        duration: duration.bind({ method, route }),
      };
      bound.set(key, series);
    }
    series.requests.inc();
    series.duration.observe((performance.now() - start) / 1000);
  };
}

/** Probes and scrapes: frequent, and no story worth a trace. */
const UNTRACED = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * One server span per request, child of the caller's W3C `traceparent` header when it sends
 * one; the route's handlers run inside it (so their spans and log lines join the trace).
 * Install only when tracing is on: with it off there is nothing to do per request.
 */
export function traceRequests(tracing: Tracing): MiddlewareHandler {
  return async function traceRequest(c, next) {
    if (UNTRACED.has(c.req.path)) return await next();
    const method = c.req.method;
    await tracing.inSpan(method, {
      kind: "server",
      parent: c.req.header("traceparent") ?? undefined,
      attributes: { "http.request.method": method, "url.path": c.req.path },
    }, async (span) => {
      await next();
      const route = routePath(c, -1);
      span.updateName(`${method} ${route}`);
      span.setAttributes({ "http.route": route, "http.response.status_code": c.res.status });
      if (c.res.status >= 500) span.fail(c.error ?? new Error(`HTTP ${c.res.status}`));
    });
  };
}

/** Options of {@link bearerAuth}. */
export interface BearerAuthOptions {
  /** The expected token; when undefined the middleware lets everything through. */
  token: string | undefined;
  /** Which methods need the token; default: every method. */
  methods?: string[];
}

/** Requires `Authorization: Bearer <token>`, compared in constant time. */
export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler {
  const methods = options.methods ? new Set(options.methods) : undefined;
  return async function requireBearer(c, next) {
    if (options.token === undefined || (methods && !methods.has(c.req.method))) return await next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      c.header("WWW-Authenticate", 'Bearer realm="outpost"');
      throw new HttpError(401, "unauthorized", "Missing 'Authorization: Bearer <token>' header");
    }
    if (!secretsEqual(match[1], options.token)) {
      c.header("WWW-Authenticate", 'Bearer realm="outpost", error="invalid_token"');
      throw new HttpError(401, "unauthorized", "Invalid bearer token");
    }
    await next();
  };
}

/** Answers 503 until `isReady()` says the process can serve. */
export function readinessGate(isReady: () => boolean): MiddlewareHandler {
  return async function requireReady(c, next) {
    if (!isReady()) {
      c.header("Retry-After", "1");
      throw new HttpError(503, "not_ready", "Starting up: database migrations are not done yet");
    }
    await next();
  };
}

/**
 * Adds conservative security headers to every response. Set before the handler runs, so they
 * go into the response as it is created: set afterwards, Hono must rebuild the finished
 * Response to change its headers (15% of the agent's hot GET, measured with --cpu-prof).
 */
export function securityHeaders(): MiddlewareHandler {
  return async function addSecurityHeaders(c, next) {
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    await next();
    // A handler that returns its own `new Response(…)` (pages, assets) bypasses the prepared
    // headers: set them on that response instead (the slow path, for those only).
    if (!c.res.headers.has("X-Content-Type-Options")) {
      c.header("X-Content-Type-Options", "nosniff");
      c.header("Referrer-Policy", "no-referrer");
      c.header("X-Frame-Options", "DENY");
    }
  };
}
