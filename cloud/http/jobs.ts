/**
 * `/api/v1/jobs`: one command for many devices, at a rate (`fleet/jobs.ts`).
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { readJsonBody, validate } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import type { FleetOperations } from "../fleet/operations.ts";
import { formatSelector } from "../fleet/selector.ts";
import { decodeListCursor, encodeListCursor, fleetCall } from "./paging.ts";
import {
  FleetCreated,
  JobCancelled,
  JobInput,
  JobOutput,
  JobsList,
  ListQueryParams,
} from "./schemas.ts";

/** Dependencies of {@link jobsRoutes}. */
export interface JobsRoutesOptions {
  fleet: Pick<FleetOperations, "jobs">;
}

const MAX_JOB_BYTES = 80 * 1024;
const JOB_ID = /^[\w-]{1,64}$/;

/** The name of a job created without one. */
export function defaultJobName(command: string, selectorText: string): string {
  return `${command} on ${selectorText === "" ? "every device" : selectorText}`.slice(0, 200);
}

/** The job routes, mounted under `/api/v1`. */
export function jobsRoutes(options: JobsRoutesOptions): Hono {
  const { jobs } = options.fleet;
  const app = new Hono();

  function jobId(id: string): string {
    if (!JOB_ID.test(id)) {
      throw new HttpError(404, "not_found", `No job with id '${id.slice(0, 80)}'`);
    }
    return id;
  }

  app.post("/jobs", async (c) => {
    const input = validate(JobInput, await readJsonBody(c.req.raw, MAX_JOB_BYTES));
    const created = await jobs.create({
      name: input.name ?? defaultJobName(input.command.name, formatSelector(input.selector)),
      selector: input.selector,
      command: input.command,
      ratePerMinute: input.ratePerMinute,
    });
    c.header("Location", `/api/v1/jobs/${created.id}`);
    return c.json(created, 201);
  });

  app.get("/jobs", async (c) => {
    const query = validate(ListQueryParams, c.req.query(), "query");
    const page = await jobs.list({
      limit: query.limit,
      ...(query.cursor ? { after: decodeListCursor(query.cursor) } : {}),
    });
    return c.json({
      items: page.items,
      nextCursor: page.next ? encodeListCursor(page.next) : null,
    });
  });

  app.get("/jobs/:id", async (c) => {
    const id = jobId(c.req.param("id"));
    const job = await jobs.get(id);
    if (!job) throw new HttpError(404, "not_found", `No job with id '${id}'`);
    return c.json(job);
  });

  app.post("/jobs/:id/cancel", async (c) => {
    const id = jobId(c.req.param("id"));
    const cancelled = await fleetCall(() => jobs.cancel(id));
    return c.json({ cancelled });
  });

  return app;
}

/** OpenAPI description of {@link jobsRoutes}. */
export const jobsDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/jobs",
    summary:
      "Create a job: one command for every device the selector matches now, released at ratePerMinute",
    tags: ["jobs"],
    body: JobInput,
    secured: true,
    responses: { 201: { description: "Created; Location names it", schema: FleetCreated } },
  },
  {
    method: "get",
    path: "/api/v1/jobs",
    summary: "Jobs, newest first, with their counts",
    tags: ["jobs"],
    query: ListQueryParams,
    secured: true,
    responses: { 200: { description: "A page of jobs", schema: JobsList } },
  },
  {
    method: "get",
    path: "/api/v1/jobs/:id",
    summary: "One job: state and counts (targeted, queued, delivered, succeeded, failed)",
    tags: ["jobs"],
    secured: true,
    responses: { 200: { description: "The job", schema: JobOutput } },
  },
  {
    method: "post",
    path: "/api/v1/jobs/:id/cancel",
    summary:
      "Cancel a running job: its commands not delivered yet are cancelled; 409 when finished",
    tags: ["jobs"],
    secured: true,
    responses: { 200: { description: "Cancelled", schema: JobCancelled } },
  },
];
