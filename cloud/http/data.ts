/**
 * `/api/v1/readings` and `/api/v1/events`: what devices sent, across the fleet or per device.
 * @module
 */
import { Hono } from "hono";
import { validate } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import { bucketMs } from "@outpost/platform/buckets";
import type { CloudStore } from "../store/store.ts";
import {
  CloudEventsList,
  CloudEventsQueryParams,
  CloudReadingsList,
  CloudReadingsQueryParams,
} from "./schemas.ts";

/** The data routes, mounted under `/api/v1`. */
export function dataRoutes(options: { store: CloudStore }): Hono {
  const app = new Hono();

  app.get("/readings", async (c) => {
    const query = validate(CloudReadingsQueryParams, c.req.query(), "query");
    const filter = {
      device: query.device,
      sensor: query.sensor,
      from: query.from === undefined ? undefined : Date.parse(query.from),
      to: query.to === undefined ? undefined : Date.parse(query.to),
      limit: query.limit,
    };
    const items = query.bucket === undefined
      ? await options.store.queryReadings(filter)
      : await options.store.aggregateReadings(filter, bucketMs(query.bucket));
    return c.json({ items });
  });

  app.get("/events", async (c) => {
    const query = validate(CloudEventsQueryParams, c.req.query(), "query");
    return c.json({ items: await options.store.listEvents(query) });
  });

  return app;
}

/** OpenAPI description of {@link dataRoutes}. */
export const dataDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/api/v1/readings",
    summary: "Readings newest first (device time), or min/max/avg/count per bucket",
    tags: ["data"],
    query: CloudReadingsQueryParams,
    secured: true,
    responses: { 200: { description: "Readings or buckets", schema: CloudReadingsList } },
  },
  {
    method: "get",
    path: "/api/v1/events",
    summary: "Events newest first (device time)",
    tags: ["data"],
    query: CloudEventsQueryParams,
    secured: true,
    responses: { 200: { description: "Events", schema: CloudEventsList } },
  },
];
