/**
 * `/api/v1/devices`: the fleet (paginated, filtered by selector, id prefix and state), one
 * device, its labels, its desired state and its commands.
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { readJsonBody, validate } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import { isDeviceId } from "@outpost/protocol";
import { type FleetOperations, MAX_DESIRED_BYTES } from "../fleet/operations.ts";
import { CursorError } from "../store/device_query.ts";
import type { CloudStore } from "../store/store.ts";
import { badCursor } from "./paging.ts";
import {
  CommandCreated,
  CommandInput,
  CommandOutput,
  CommandsList,
  CommandsQueryParams,
  DeleteDeviceOutput,
  DeleteDeviceQueryParams,
  DesiredInput,
  DesiredOutput,
  DeviceDetailOutput,
  DevicesPageOutput,
  DevicesQueryParams,
  LabelsInput,
  ReinstateInput,
  ResetPositionInput,
  ResetPositionOutput,
} from "./schemas.ts";

/** Dependencies of {@link devicesRoutes}. */
export interface DevicesRoutesOptions {
  store: Pick<
    CloudStore,
    "deviceExists" | "listDevicesPage" | "getDevice" | "listCommands" | "getCommand"
  >;
  fleet: FleetOperations;
}

const MAX_COMMAND_BYTES = 64 * 1024;
const MAX_LABELS_BYTES = 64 * 1024;
const MAX_ACTION_BYTES = 4 * 1024;

/** An optional JSON body: none (or an empty one) is `{}`. */
async function optionalBody(request: Request): Promise<unknown> {
  const length = request.headers.get("content-length");
  if (!request.body || length === "0") return {};
  return await readJsonBody(request, MAX_ACTION_BYTES);
}
const COMMAND_ID = /^[\w-]{1,64}$/;

function unknownDevice(id: string): HttpError {
  return new HttpError(404, "not_found", `No device with id '${id.slice(0, 80)}'`);
}

/** The device routes, mounted under `/api/v1`. */
export function devicesRoutes(options: DevicesRoutesOptions): Hono {
  const { store } = options;
  const app = new Hono();

  async function requireDevice(id: string): Promise<void> {
    if (!isDeviceId(id) || !(await store.deviceExists(id))) throw unknownDevice(id);
  }

  app.get("/devices", async (c) => {
    const query = validate(DevicesQueryParams, c.req.query(), "query");
    try {
      return c.json(
        await store.listDevicesPage(query, { counts: (f) => options.fleet.countDevices(f) }),
      );
    } catch (error) {
      if (error instanceof CursorError) throw badCursor(query.cursor ?? "");
      throw error;
    }
  });

  app.get("/devices/:id", async (c) => {
    const id = c.req.param("id");
    const device = isDeviceId(id) ? await store.getDevice(id) : undefined;
    if (!device) throw unknownDevice(id);
    return c.json(device);
  });

  app.put("/devices/:id/desired", async (c) => {
    const id = c.req.param("id");
    if (!isDeviceId(id)) throw unknownDevice(id);
    const desired = validate(DesiredInput, await readJsonBody(c.req.raw, MAX_DESIRED_BYTES));
    const version = await options.fleet.setDesired(id, desired);
    if (version === undefined) throw unknownDevice(id);
    return c.json({ version });
  });

  app.put("/devices/:id/labels", async (c) => {
    const id = c.req.param("id");
    if (!isDeviceId(id)) throw unknownDevice(id);
    const { labels } = validate(LabelsInput, await readJsonBody(c.req.raw, MAX_LABELS_BYTES));
    if (!(await options.fleet.setLabels(id, labels))) throw unknownDevice(id);
    return c.json({ labels });
  });

  app.post("/devices/:id/commands", async (c) => {
    const id = c.req.param("id");
    await requireDevice(id);
    const input = validate(CommandInput, await readJsonBody(c.req.raw, MAX_COMMAND_BYTES));
    const command = await options.fleet.queueCommand(id, input);
    c.header("Location", `/api/v1/devices/${id}/commands/${command.id}`);
    return c.json({ id: command.id }, 201);
  });

  app.get("/devices/:id/commands", async (c) => {
    const id = c.req.param("id");
    await requireDevice(id);
    const query = validate(CommandsQueryParams, c.req.query(), "query");
    const items = await store.listCommands(id, query.limit);
    return c.json({ items: items.map(({ deviceId: _deviceId, ...command }) => command) });
  });

  app.post("/devices/:id/revoke", async (c) => {
    const id = c.req.param("id");
    if (!isDeviceId(id)) throw unknownDevice(id);
    return c.json(await options.fleet.revoke(id));
  });

  app.post("/devices/:id/decommission", async (c) => {
    const id = c.req.param("id");
    if (!isDeviceId(id)) throw unknownDevice(id);
    return c.json(await options.fleet.decommission(id));
  });

  app.post("/devices/:id/reinstate", async (c) => {
    const id = c.req.param("id");
    if (!isDeviceId(id)) throw unknownDevice(id);
    const input = validate(ReinstateInput, await optionalBody(c.req.raw));
    return c.json(await options.fleet.reinstate(id, input));
  });

  app.post("/devices/:id/reset-position", async (c) => {
    const id = c.req.param("id");
    if (!isDeviceId(id)) throw unknownDevice(id);
    const input = validate(ResetPositionInput, await optionalBody(c.req.raw));
    return c.json(await options.fleet.resetPosition(id, input.ackedSeq));
  });

  app.delete("/devices/:id", async (c) => {
    const id = c.req.param("id");
    if (!isDeviceId(id)) throw unknownDevice(id);
    const query = validate(DeleteDeviceQueryParams, c.req.query(), "query");
    const deleted = await options.fleet.deleteDevice(id, query.data);
    return c.json({ id, data: query.data === "purge" ? "purged" : "kept", ...deleted });
  });

  app.get("/devices/:id/commands/:cid", async (c) => {
    const id = c.req.param("id");
    const cid = c.req.param("cid");
    await requireDevice(id);
    const command = COMMAND_ID.test(cid) ? await store.getCommand(id, cid) : undefined;
    if (!command) {
      throw new HttpError(
        404,
        "not_found",
        `Device '${id}' has no command with id '${cid.slice(0, 80)}'`,
      );
    }
    const { deviceId: _deviceId, ...view } = command;
    return c.json(view);
  });

  return app;
}

/** OpenAPI description of {@link devicesRoutes}. */
export const devicesDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/api/v1/devices",
    summary:
      "A page of the fleet by id (keyset cursor), filtered by label selector, id prefix and state, with the counts of every match",
    tags: ["devices"],
    query: DevicesQueryParams,
    secured: true,
    responses: { 200: { description: "A page of devices", schema: DevicesPageOutput } },
  },
  {
    method: "get",
    path: "/api/v1/devices/:id",
    summary: "One device with row counts and desired/applied configuration",
    tags: ["devices"],
    secured: true,
    responses: { 200: { description: "The device", schema: DeviceDetailOutput } },
  },
  {
    method: "put",
    path: "/api/v1/devices/:id/labels",
    summary:
      "Replace a device's labels (Kubernetes label syntax; a bad key or value is named in the 422)",
    tags: ["devices"],
    body: LabelsInput,
    secured: true,
    responses: { 200: { description: "Stored", schema: LabelsInput } },
  },
  {
    method: "put",
    path: "/api/v1/devices/:id/desired",
    summary:
      "Replace the desired configuration (bumps its version, published retained); during a rollout it wins for the keys it sets, and the rollout keeps the others",
    tags: ["devices"],
    body: DesiredInput,
    secured: true,
    responses: { 200: { description: "Stored", schema: DesiredOutput } },
  },
  {
    method: "post",
    path: "/api/v1/devices/:id/revoke",
    summary:
      "Revoke a device: broker credentials removed (refused at its next connect, current session dropped), enrollment refused even with its secret, nothing it sends stored; data kept",
    tags: ["lifecycle"],
    idempotent: true,
    secured: true,
    responses: {
      200: { description: "Revoked", schema: DeviceDetailOutput },
      503: {
        description:
          "broker_unavailable: revoked in the cloud but the broker did not confirm; repeat the call",
      },
    },
  },
  {
    method: "post",
    path: "/api/v1/devices/:id/decommission",
    summary: "Decommission a retired device: as revoke, listed as decommissioned, data kept",
    tags: ["lifecycle"],
    idempotent: true,
    secured: true,
    responses: { 200: { description: "Decommissioned", schema: DeviceDetailOutput } },
  },
  {
    method: "post",
    path: "/api/v1/devices/:id/reinstate",
    summary:
      "Make a revoked or decommissioned device active again; it re-enrolls with its device secret (or, with resetSecret, after an approval)",
    tags: ["lifecycle"],
    body: ReinstateInput,
    idempotent: true,
    secured: true,
    responses: { 200: { description: "Active", schema: DeviceDetailOutput } },
  },
  {
    method: "post",
    path: "/api/v1/devices/:id/reset-position",
    summary:
      "Reset the device's sequence position: forget what is stored above it (the device resends) and clear a poisoned lag; ackedSeq may raise it, never lower it",
    tags: ["lifecycle"],
    body: ResetPositionInput,
    idempotent: true,
    secured: true,
    responses: {
      200: { description: "Reset", schema: ResetPositionOutput },
      409: { description: "conflict: ackedSeq below the current position" },
    },
  },
  {
    method: "delete",
    path: "/api/v1/devices/:id",
    summary:
      "Delete a device: credentials revoked, gone from the fleet; data=keep keeps its readings, events and commands queryable, data=purge deletes them",
    tags: ["lifecycle"],
    query: DeleteDeviceQueryParams,
    secured: true,
    responses: { 200: { description: "Deleted", schema: DeleteDeviceOutput } },
  },
  {
    method: "post",
    path: "/api/v1/devices/:id/commands",
    summary: "Queue a command; it is published at once if the device is online",
    tags: ["commands"],
    body: CommandInput,
    idempotent: true,
    secured: true,
    responses: { 201: { description: "Queued; Location names it", schema: CommandCreated } },
  },
  {
    method: "get",
    path: "/api/v1/devices/:id/commands",
    summary: "A device's commands, newest first",
    tags: ["commands"],
    query: CommandsQueryParams,
    secured: true,
    responses: { 200: { description: "Commands", schema: CommandsList } },
  },
  {
    method: "get",
    path: "/api/v1/devices/:id/commands/:cid",
    summary: "One command and its status",
    tags: ["commands"],
    secured: true,
    responses: { 200: { description: "The command", schema: CommandOutput } },
  },
];
