/**
 * `/api/v1/sync` and `/api/v1/config`: how far the device is with the cloud, and its desired
 * configuration.
 * @module
 */
import { Hono } from "hono";
import type { RouteDoc } from "@outpost/platform/openapi";
import type { AgentStore } from "../store/store.ts";
import type { SyncConnection } from "../sync/state.ts";
import { ConfigOutput, SyncStatusOutput } from "./schemas.ts";

/** Dependencies of {@link statusRoutes}. */
export interface StatusRoutesOptions {
  store: AgentStore;
  connection: () => SyncConnection;
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
      problem: connection.problem,
      since: connection.since,
      nextAttemptAt: connection.nextAttemptAt,
      brokerUrl: connection.brokerUrl,
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
