/**
 * The fleet console (server-rendered pages with islands) as a Hono sub-app:
 * `createCloudApp({ ui: createFleetUi({ store, downlink, … }) })`.
 * @module
 */
import { createSessionAuth, type SessionAuth } from "@outpost/web/session";

export { createFleetUi, type FleetUiOptions } from "./routes.tsx";

/**
 * The fleet console's session cookie. Not the agent's name: cookies are shared by every port
 * of a host, and in development the agent and the cloud run side by side on 127.0.0.1.
 */
export const FLEET_SESSION_COOKIE = "outpost_fleet_session";

/** Sessions of the fleet console, keyed by the cloud's admin token. */
export function createFleetSessionAuth(adminToken: string): SessionAuth {
  return createSessionAuth({ secret: adminToken, cookieName: FLEET_SESSION_COOKIE });
}
