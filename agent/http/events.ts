/**
 * `/api/v1/events`: write an event, list them, read one.
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
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
import type { AgentStore } from "../store/store.ts";
import { EventCreated, EventInput, EventOutput, EventsList, EventsQueryParams } from "./schemas.ts";
import { type TimeWindow, timeWindowProblem } from "./time_window.ts";

/** Dependencies of {@link eventsRoutes}. */
export interface EventsRoutesOptions {
  store: AgentStore;
  eventsWritten: Counter;
  maxBodyBytes?: number;
  /** Spans of the store write (its trace context goes into the outbox record). */
  tracing?: Tracing;
  logger?: Logger;
  now?: () => number;
  /** The plausible window of a client's `ts` around the agent's clock. */
  timeWindow?: TimeWindow;
}

const EVENT_ID = /^[0-9a-f-]{36}$/;

/** The events routes, mounted under `/api/v1`. */
export function eventsRoutes(options: EventsRoutesOptions): Hono {
  const app = new Hono();
  const tracing = options.tracing ?? NO_TRACING;

  app.post("/events", async (c) => {
    const raw = await readJsonBody(c.req.raw, options.maxBodyBytes);
    const input = validate(EventInput, raw);
    const received = (options.now ?? Date.now)();
    const late = input.ts && timeWindowProblem("ts", input.ts, options.timeWindow ?? {}, received);
    if (late) throw validationError([late]);
    const idempotency = idempotencyOf(c.req.raw, "POST /api/v1/events", raw);
    const event = await tracing.inSpan("store.insert_event", {}, async (span) => {
      const event = await options.store.insertEvent(
        { ...input, ts: input.ts === undefined ? undefined : Date.parse(input.ts) },
        { now: received, traceparent: span.traceparent, idempotency },
      ).catch((error) => {
        throw error instanceof IdempotencyConflict ? idempotencyError(error) : error;
      });
      span.setAttributes({ "outpost.seq.last": event.seq });
      options.logger?.debug("event stored", { id: event.id, seq: event.seq });
      return event;
    });
    if (event.replayed) c.header(REPLAYED_HEADER, "true");
    else options.eventsWritten.inc();
    c.header("Location", `/api/v1/events/${event.id}`);
    return c.json({ id: event.id, seq: event.seq }, 201);
  });

  app.get("/events", async (c) => {
    const query = validate(EventsQueryParams, c.req.query(), "query");
    return c.json({ items: await options.store.listEvents(query) });
  });

  app.get("/events/:id", async (c) => {
    const id = c.req.param("id");
    const event = EVENT_ID.test(id) ? await options.store.getEvent(id) : undefined;
    if (!event) throw new HttpError(404, "not_found", `No event with id '${id.slice(0, 80)}'`);
    return c.json(event);
  });

  return app;
}

/** OpenAPI description of {@link eventsRoutes}. */
export const eventsDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/events",
    summary: "Store an event (committed with its outbox record)",
    tags: ["events"],
    body: EventInput,
    idempotent: true,
    secured: true,
    responses: {
      201: {
        description:
          "Stored; Location names the event (for a repeated Idempotency-Key, the first answer)",
        schema: EventCreated,
      },
    },
  },
  {
    method: "get",
    path: "/api/v1/events",
    summary: "Events newest first",
    tags: ["events"],
    query: EventsQueryParams,
    responses: { 200: { description: "Events", schema: EventsList } },
  },
  {
    method: "get",
    path: "/api/v1/events/:id",
    summary: "One event",
    tags: ["events"],
    responses: { 200: { description: "The event", schema: EventOutput } },
  },
];
