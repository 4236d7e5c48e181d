/**
 * `/api/v1/rollouts`: desired-state changes for many devices, in waves (`fleet/rollouts.ts`).
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { readJsonBody, validate } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import type { RolloutView } from "../fleet/rollouts.ts";
import type { FleetOperations } from "../fleet/operations.ts";
import { MAX_DESIRED_BYTES } from "../fleet/requests.ts";
import { decodeListCursor, encodeListCursor, fleetCall } from "./paging.ts";
import {
  FleetCreated,
  ListQueryParams,
  RolloutInput,
  RolloutOutput,
  RolloutsList,
} from "./schemas.ts";

/** Dependencies of {@link rolloutsRoutes}. */
export interface RolloutsRoutesOptions {
  fleet: Pick<FleetOperations, "rollouts">;
}

const ROLLOUT_ID = /^[\w-]{1,64}$/;

/** A rollout as the API shows it. */
export type RolloutBody = ReturnType<typeof rolloutBody>;

/** A rollout as the API shows it (the wave's internal counters left out). */
export function rolloutBody(rollout: RolloutView) {
  return {
    ...rollout,
    waves: rollout.waves.map(({ index: _i, waiting: _w, pendingOnline: _p, ...wave }) => wave),
  };
}

/** The rollout routes, mounted under `/api/v1`. */
export function rolloutsRoutes(options: RolloutsRoutesOptions): Hono {
  const { rollouts } = options.fleet;
  const app = new Hono();

  function rolloutId(id: string): string {
    if (!ROLLOUT_ID.test(id)) {
      throw new HttpError(404, "not_found", `No rollout with id '${id.slice(0, 80)}'`);
    }
    return id;
  }

  app.post("/rollouts", async (c) => {
    // The patch plus the wave list: the desired state's limit with room for the rest.
    const input = validate(RolloutInput, await readJsonBody(c.req.raw, MAX_DESIRED_BYTES + 16_384));
    const created = await rollouts.create(input);
    c.header("Location", `/api/v1/rollouts/${created.id}`);
    return c.json(created, 201);
  });

  app.get("/rollouts", async (c) => {
    const query = validate(ListQueryParams, c.req.query(), "query");
    const page = await rollouts.list({
      limit: query.limit,
      ...(query.cursor ? { after: decodeListCursor(query.cursor) } : {}),
    });
    return c.json({
      items: page.items.map(rolloutBody),
      nextCursor: page.next ? encodeListCursor(page.next) : null,
    });
  });

  app.get("/rollouts/:id", async (c) => {
    const id = rolloutId(c.req.param("id"));
    const rollout = await rollouts.get(id);
    if (!rollout) throw new HttpError(404, "not_found", `No rollout with id '${id}'`);
    return c.json(rolloutBody(rollout));
  });

  for (const action of ["pause", "resume", "abort"] as const) {
    app.post(`/rollouts/:id/${action}`, async (c) => {
      const id = rolloutId(c.req.param("id"));
      await fleetCall(() => rollouts[action](id));
      return c.json(rolloutBody((await rollouts.get(id))!));
    });
  }

  app.post("/rollouts/:id/rollback", async (c) => {
    const id = rolloutId(c.req.param("id"));
    const created = await fleetCall(() => rollouts.rollback(id));
    c.header("Location", `/api/v1/rollouts/${created.id}`);
    return c.json(created, 201);
  });

  return app;
}

/** OpenAPI description of {@link rolloutsRoutes}. */
export const rolloutsDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/rollouts",
    summary:
      "Create a rollout: a JSON merge patch for every device the selector matches now, in waves",
    tags: ["rollouts"],
    body: RolloutInput,
    secured: true,
    responses: { 201: { description: "Created; Location names it", schema: FleetCreated } },
  },
  {
    method: "get",
    path: "/api/v1/rollouts",
    summary: "Rollouts, newest first, with their counts",
    tags: ["rollouts"],
    query: ListQueryParams,
    secured: true,
    responses: { 200: { description: "A page of rollouts", schema: RolloutsList } },
  },
  {
    method: "get",
    path: "/api/v1/rollouts/:id",
    summary: "One rollout: state, counts (targeted, pending, applied, failed, offline), waves",
    tags: ["rollouts"],
    secured: true,
    responses: { 200: { description: "The rollout", schema: RolloutOutput } },
  },
  ...(["pause", "resume", "abort"] as const).map((action): RouteDoc => ({
    method: "post",
    path: `/api/v1/rollouts/:id/${action}`,
    summary: {
      pause: "Pause: no further wave starts (answers are still counted); 409 unless running",
      resume: "Resume a paused rollout; 409 unless paused",
      abort:
        "Abort: waves not started are skipped, unanswered devices get their previous values back; 409 when finished",
    }[action],
    tags: ["rollouts"],
    secured: true,
    responses: { 200: { description: "The rollout now", schema: RolloutOutput } },
  })),
  {
    method: "post",
    path: "/api/v1/rollouts/:id/rollback",
    summary:
      "Roll back: aborts it if running, then a new rollout restores the previous values of the keys it changed, on the devices it changed; 409 if already rolled back",
    tags: ["rollouts"],
    secured: true,
    responses: { 201: { description: "The rollback rollout", schema: FleetCreated } },
  },
];
