/**
 * `/api/v1/devices`: the fleet, one device, its desired state and its commands.
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { readJsonBody, validate } from "@outpost/platform/json_body";
import type { RouteDoc } from "@outpost/platform/openapi";
import { isDeviceId } from "@outpost/protocol";
import { type FleetOperations, MAX_DESIRED_BYTES } from "../fleet/operations.ts";
import type { CloudStore } from "../store/store.ts";
import {
  CommandCreated,
  CommandInput,
  CommandOutput,
  CommandsList,
  CommandsQueryParams,
  DesiredInput,
  DesiredOutput,
  DeviceDetailOutput,
  DevicesList,
} from "./schemas.ts";

/** Dependencies of {@link devicesRoutes}. */
export interface DevicesRoutesOptions {
  store: Pick<
    CloudStore,
    "deviceExists" | "listDevices" | "getDevice" | "listCommands" | "getCommand"
  >;
  fleet: FleetOperations;
}

const MAX_COMMAND_BYTES = 64 * 1024;
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

  app.get("/devices", async (c) => c.json({ items: await store.listDevices() }));

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
    summary: "The fleet: presence, last seen, sync position and lag of every device",
    tags: ["devices"],
    secured: true,
    responses: { 200: { description: "Devices", schema: DevicesList } },
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
    path: "/api/v1/devices/:id/desired",
    summary: "Replace the desired configuration (bumps its version, published retained)",
    tags: ["devices"],
    body: DesiredInput,
    secured: true,
    responses: { 200: { description: "Stored", schema: DesiredOutput } },
  },
  {
    method: "post",
    path: "/api/v1/devices/:id/commands",
    summary: "Queue a command; it is published at once if the device is online",
    tags: ["commands"],
    body: CommandInput,
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
