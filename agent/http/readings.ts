/**
 * `/api/v1/readings`: write one reading or a batch, query them raw or aggregated.
 * @module
 */
import { Hono } from "hono";
import type { ErrorDetail } from "@outpost/platform/http_error";
import type { z } from "zod";
import {
  IdempotencyConflict,
  idempotencyError,
  idempotencyOf,
  REPLAYED_HEADER,
} from "@outpost/platform/idempotency";
import { readJsonBody, validate, validationError } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import type { Counter } from "@outpost/platform/metrics";
import type { Logger } from "@outpost/platform/log";
import { NO_TRACING, type Tracing } from "@outpost/platform/trace";
import { bucketMs } from "@outpost/platform/buckets";
import type { AgentStore, NewReading } from "../store/store.ts";
import { ResponseCache } from "./response_cache.ts";
import {
  ReadingInput,
  ReadingsAccepted,
  ReadingsArray,
  ReadingsBody,
  ReadingsList,
  ReadingsQueryParams,
} from "./schemas.ts";
import { type TimeWindow, timeWindowProblem } from "./time_window.ts";

/** Dependencies of {@link readingsRoutes}. */
export interface ReadingsRoutesOptions {
  store: AgentStore;
  readingsWritten: Counter;
  maxBodyBytes?: number;
  now?: () => number;
  /** Spans of the store write (its trace context goes into the outbox records). */
  tracing?: Tracing;
  logger?: Logger;
  /** The plausible window of a client's `ts` around the agent's clock. */
  timeWindow?: TimeWindow;
}

/**
 * Validates a readings body: an array against the array schema, anything else against the
 * one-reading schema, so every problem names its field (`3.value`) instead of the union
 * failing as a whole; then each `ts` against the agent's window.
 */
export function validateReadings(
  body: unknown,
  window: TimeWindow,
  now: number,
): { items: z.infer<typeof ReadingInput>[]; single: boolean } {
  const single = !Array.isArray(body);
  const items = single ? [validate(ReadingInput, body)] : validate(ReadingsArray, body);
  const problems: ErrorDetail[] = [];
  items.forEach((item, i) => {
    if (item.ts === undefined) return;
    const problem = timeWindowProblem(single ? "ts" : `${i}.ts`, item.ts, window, now);
    if (problem) problems.push(problem);
  });
  if (problems.length) throw validationError(problems);
  return { items, single };
}

const JSON_HEADERS = { "content-type": "application/json" };

/** The readings routes, mounted under `/api/v1`. */
export function readingsRoutes(options: ReadingsRoutesOptions): Hono {
  const now = options.now ?? Date.now;
  const tracing = options.tracing ?? NO_TRACING;
  const cache = new ResponseCache();
  const app = new Hono();

  app.post("/readings", async (c) => {
    const raw = await readJsonBody(c.req.raw, options.maxBodyBytes);
    const received = now();
    const { items } = validateReadings(raw, options.timeWindow ?? {}, received);
    const readings: NewReading[] = items.map((input) => ({
      sensor: input.sensor,
      value: input.value,
      unit: input.unit,
      ts: input.ts === undefined ? received : Date.parse(input.ts),
    }));
    const idempotency = idempotencyOf(c.req.raw, "POST /api/v1/readings", raw);
    const result = await tracing.inSpan("store.insert_readings", {
      attributes: { "outpost.records": readings.length },
    }, async (span) => {
      const result = await options.store.insertReadings(readings, {
        now: received,
        traceparent: span.traceparent,
        idempotency,
      }).catch((error) => {
        throw error instanceof IdempotencyConflict ? idempotencyError(error) : error;
      });
      span.setAttributes({ "outpost.seq.last": result.lastSeq });
      options.logger?.debug("readings stored", { ...result });
      return result;
    });
    const { replayed, ...body } = result;
    if (replayed) c.header(REPLAYED_HEADER, "true");
    else options.readingsWritten.inc({}, result.accepted);
    return c.json(body, 201);
  });

  app.get("/readings", async (c) => {
    // Keyed by the raw query string, looked up before validation: the same string always
    // validates to the same query, and a dashboard polls the same one between writes.
    const url = c.req.url;
    const at = url.indexOf("?");
    const key = at < 0 ? "" : url.slice(at);
    const generation = options.store.generation;
    const cached = cache.get(key, generation);
    if (cached !== undefined) return c.body(cached, 200, JSON_HEADERS);
    const query = validate(ReadingsQueryParams, c.req.query(), "query");
    const filter = {
      sensor: query.sensor,
      from: query.from === undefined ? undefined : Date.parse(query.from),
      to: query.to === undefined ? undefined : Date.parse(query.to),
      limit: query.limit,
    };
    const items = query.bucket === undefined
      ? await options.store.queryReadings(filter)
      : await options.store.aggregateReadings(filter, bucketMs(query.bucket));
    const body = JSON.stringify({ items });
    cache.set(key, generation, body);
    return c.body(body, 200, JSON_HEADERS);
  });

  return app;
}

/** OpenAPI description of {@link readingsRoutes}. */
export const readingsDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/readings",
    summary: "Store one reading or an array of up to 10,000 (committed with their outbox records)",
    tags: ["readings"],
    body: ReadingsBody,
    idempotent: true,
    secured: true,
    responses: {
      201: {
        description: "Stored (or, for a repeated Idempotency-Key, the first answer)",
        schema: ReadingsAccepted,
      },
    },
  },
  {
    method: "get",
    path: "/api/v1/readings",
    summary: "Readings newest first, or min/max/avg/count per bucket",
    tags: ["readings"],
    query: ReadingsQueryParams,
    responses: { 200: { description: "Readings or buckets", schema: ReadingsList } },
  },
];
