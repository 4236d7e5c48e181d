/**
 * `/api/v1/sync` and `/api/v1/config`: how far the device is with the cloud, and its desired
 * configuration.
 * @module
 */
import { Hono } from "hono";
import type { RouteDoc } from "../platform/openapi.ts";
import type { AgentStore } from "../store/store.ts";
import { ConfigOutput, SYNC_STATES, SyncStatusOutput } from "./schemas.ts";

/** The connection side of the sync status, provided by the sync loop. */
export interface SyncConnection {
  state: typeof SYNC_STATES[number];
  lastError: string | null;
}

/** Dependencies of {@link statusRoutes}. */
export interface StatusRoutesOptions {
  store: AgentStore;
  connection: () => SyncConnection;
}

/** A connection view for an agent with no cloud configured. */
export function unenrolledConnection(): SyncConnection {
  return { state: "unenrolled", lastError: null };
}

/** The status routes, mounted under `/api/v1`. */
export function statusRoutes(options: StatusRoutesOptions): Hono {
  const app = new Hono();
  app.get("/sync", async (c) => {
    const stats = await options.store.outboxStats();
    const connection = options.connection();
    return c.json({
      state: connection.state,
      pending: stats.pending,
      lastSeq: stats.lastSeq,
      ackedSeq: stats.ackedSeq,
      lastAckAt: stats.lastAckAt,
      lastError: connection.lastError,
    });
  });
  app.get("/config", async (c) => c.json(await options.store.readConfig()));
  return app;
}

/** OpenAPI description of {@link statusRoutes}. */
export const statusDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/api/v1/sync",
    summary: "Sync state: connection, pending outbox records, last and acked seq",
    tags: ["sync"],
    responses: { 200: { description: "Sync status", schema: SyncStatusOutput } },
  },
  {
    method: "get",
    path: "/api/v1/config",
    summary: "Desired configuration from the cloud and the applied version",
    tags: ["sync"],
    responses: { 200: { description: "Configuration", schema: ConfigOutput } },
  },
];
