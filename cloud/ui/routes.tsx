/**
 * The fleet console: server-rendered Preact pages as a Hono sub-app, mounted at `/` by
 * `createCloudApp({ ui })`. Pages: `/` devices (one page of the list: selector, id prefix,
 * state), `/devices/:id` (charts, events, desired state editor, commands),
 * `POST /devices/:id/desired`, `POST /devices/:id/commands`, the rollout and job pages
 * (`fleet_routes.tsx`), `/login`, `POST /login`, `POST /logout`, and the client assets at
 * `/assets/*`.
 *
 * Everything but the login needs a session from the admin token; every form post must be
 * same-origin and carry the session's CSRF token (see `web/session.ts`). Desired state and
 * commands go through the same use cases as the HTTP API (`cloud/fleet/operations.ts`).
 * @module
 */
import { type Context, Hono } from "hono";
import type { Logger } from "@outpost/platform/log";
import { isDeviceId } from "@outpost/protocol";
import {
  FleetActionError,
  type FleetOperations,
  type FleetReadModel,
  MAX_DESIRED_BYTES,
} from "../fleet/operations.ts";
import { ProvisioningError } from "../broker/credentials.ts";
import { LIFECYCLE_ACTIONS, type LifecycleAction } from "./components/lifecycle.tsx";
import { assetRoutes, type AssetSet } from "@outpost/web/assets";
import { parseFleetQuery } from "./components/fleet_filter.ts";
import { loginHref, readGuardedForm, requireCsrf, safeNext } from "@outpost/web/form_guard";
import { pageResponse, startingResponse } from "@outpost/web/render";
import { isHttps, type Session, type SessionAuth } from "@outpost/web/session";
import { parseCommandForm, parseDesiredForm } from "./device_forms.ts";
import {
  DeviceNotFoundPage,
  type FleetContext,
  FleetLoginPage,
  FleetStartingPage,
} from "./page.tsx";
import { type DeviceFormsState, DevicePage, devicePath, loadDevicePage } from "./pages/device.tsx";
import { DevicesPage, loadFleet } from "./pages/devices.tsx";
import { installFleetRoutes } from "./fleet_routes.tsx";

/** Dependencies of {@link createFleetUi}. */
export interface FleetUiOptions {
  /** What the pages read. */
  reads: FleetReadModel;
  /** What the forms do (the API's own use cases). */
  fleet: FleetOperations;
  logger: Logger;
  /** Sessions keyed by the admin token ({@link createFleetSessionAuth}). */
  session: SessionAuth;
  assets: AssetSet;
  /** False until the database is migrated (pages answer 503 meanwhile). */
  isReady?: () => boolean;
  /** Refresh interval of the islands in the browser; default 5000, 0 turns it off. */
  pollMs?: number;
  now?: () => number;
}

/** What a device form post leads to: a redirect, or the page again with the forms' state. */
type FormOutcome = { redirect: string } | { forms: DeviceFormsState; status: number };

/** A page context with a session (every route but the login has one). */
type SignedIn = FleetContext & { session: Session };

/**
 * Desired state travels urlencoded: every byte may take three, and the JSON is re-indented.
 * The API's limit still applies to the parsed JSON (see `parseDesiredForm`).
 */
const MAX_DESIRED_FORM_BYTES = 4 * MAX_DESIRED_BYTES;

/** Builds the console's routes. */
export function createFleetUi(options: FleetUiOptions): Hono {
  const { reads: store, fleet, session: auth } = options;
  const now = options.now ?? Date.now;
  const isReady = options.isReady ?? (() => true);
  const pollMs = options.pollMs ?? 5000;
  const app = new Hono();

  const contextOf = (c: Context): FleetContext => ({
    path: c.req.path,
    assets: options.assets,
    session: auth.read(c.req.raw),
  });

  /**
   * Wraps a page handler: 503 until ready; without a session a GET goes to the login (and
   * back), a POST gets the login form with 401 and changes nothing.
   */
  const page = (handler: (c: Context, context: SignedIn) => Promise<Response>) =>
    async function renderFleetRoute(c: Context): Promise<Response> {
      const context = contextOf(c);
      if (!isReady()) {
        return startingResponse(<FleetStartingPage context={context} />);
      }
      if (!context.session) {
        const url = new URL(c.req.url);
        if (c.req.method === "GET") return c.redirect(loginHref(url.pathname + url.search), 303);
        // A form's page is its action's parent: /devices/x/desired comes from /devices/x.
        return pageResponse(
          <FleetLoginPage
            context={context}
            next={url.pathname.replace(/\/[^/]+$/, "") || "/"}
            reason="Your session has ended; log in again. Nothing was changed."
          />,
          { status: 401 },
        );
      }
      return await handler(c, context as SignedIn);
    };

  /** The device page (200, or 422 with the forms' errors), or the 404 page. */
  const devicePage = async (
    context: SignedIn,
    id: string,
    forms: DeviceFormsState = {},
    extra: { status?: number; highlight?: string } = {},
  ): Promise<Response> => {
    const data = isDeviceId(id)
      ? await loadDevicePage(id, {
        store,
        csrfToken: context.session.csrfToken,
        pollMs,
        now,
        highlight: extra.highlight,
      })
      : undefined;
    if (!data) {
      return pageResponse(<DeviceNotFoundPage context={context} id={id} />, { status: 404 });
    }
    return pageResponse(<DevicePage context={context} data={data} forms={forms} />, {
      status: extra.status ?? 200,
    });
  };

  app.route("/", assetRoutes(options.assets));
  installFleetRoutes(app, { page, fleet, reads: store, auth, pollMs, now });

  app.get(
    "/",
    page(async (c, context) => {
      const data = await loadFleet({
        store,
        counts: (filter) => fleet.countDevices(filter),
        query: parseFleetQuery(c.req.query()),
        csrfToken: context.session.csrfToken,
        pollMs,
        now,
      });
      const deleted = c.req.query("deleted");
      return pageResponse(
        <DevicesPage
          context={context}
          data={data}
          pendingRequests={await store.listEnrollmentRequests({ status: "pending", limit: 50 })}
          deleted={deleted && isDeviceId(deleted) ? deleted : undefined}
        />,
        { status: data.ok ? 200 : 422 },
      );
    }),
  );

  app.get(
    "/devices/:id",
    page(async (c, context) => {
      const saved = Number(c.req.query("saved"));
      const done = c.req.query("done");
      return await devicePage(
        context,
        deviceIdParam(c),
        {
          savedVersion: Number.isInteger(saved) && saved > 0 ? saved : undefined,
          lifecycleNotice: done && Object.hasOwn(DONE_NOTICES, done)
            ? DONE_NOTICES[done]
            : undefined,
        },
        { highlight: c.req.query("command") },
      );
    }),
  );

  /**
   * A form post to one device: same-origin and CSRF-checked, 404 page for an unknown device;
   * `handle` answers where to redirect, or the forms' state to re-render (422).
   */
  const deviceForm = (
    maxBytes: number | undefined,
    handle: (id: string, fields: Record<string, string>) => Promise<FormOutcome>,
  ) =>
    page(async (c, context) => {
      const id = deviceIdParam(c);
      const fields = await readGuardedForm(c.req.raw, maxBytes);
      requireCsrf(auth, context.session, fields);
      if (!isDeviceId(id) || !(await store.deviceExists(id))) return await devicePage(context, id);
      const outcome = await handle(id, fields);
      if ("redirect" in outcome) return c.redirect(outcome.redirect, 303);
      return await devicePage(context, id, outcome.forms, { status: outcome.status });
    });

  app.post(
    "/devices/:id/desired",
    deviceForm(MAX_DESIRED_FORM_BYTES, async (id, fields) => {
      const result = parseDesiredForm(fields);
      if (!result.ok) {
        return { forms: { desiredText: result.value, desiredErrors: result.errors }, status: 422 };
      }
      const version = await fleet.setDesired(id, result.desired);
      // Undefined only when the device was removed meanwhile: the page then says 404.
      if (version === undefined) return { forms: {}, status: 404 };
      return { redirect: `${devicePath(id)}?saved=${version}#desired` };
    }),
  );

  app.post(
    "/devices/:id/commands",
    deviceForm(undefined, async (id, fields) => {
      const result = parseCommandForm(fields);
      if (!result.ok) {
        return { forms: { level: result.level, commandErrors: result.errors }, status: 422 };
      }
      const command = await fleet.queueCommand(id, result.command);
      return {
        redirect: `${devicePath(id)}?${new URLSearchParams({ command: command.id })}#commands`,
      };
    }),
  );

  app.post(
    "/devices/:id/lifecycle",
    deviceForm(undefined, async (id, fields) => {
      const action = fields.action as LifecycleAction;
      const back = (done: string) => ({ redirect: `${devicePath(id)}?done=${done}#lifecycle` });
      if (!(LIFECYCLE_ACTIONS as readonly string[]).includes(action)) {
        return {
          forms: { lifecycleError: `Unknown action '${String(action).slice(0, 40)}'.` },
          status: 422,
        };
      }
      if (action === "delete" && fields.data !== "keep" && fields.data !== "purge") {
        return {
          forms: { lifecycleError: "Choose whether to keep the device's data or delete it too." },
          status: 422,
        };
      }
      try {
        switch (action) {
          case "revoke":
            await fleet.revoke(id);
            return back("revoked");
          case "decommission":
            await fleet.decommission(id);
            return back("decommissioned");
          case "reinstate":
            await fleet.reinstate(id, { resetSecret: fields.resetSecret === "true" });
            return back(fields.resetSecret === "true" ? "reinstated-reset" : "reinstated");
          case "reset-position":
            await fleet.resetPosition(id);
            return back("reset");
          case "delete":
            await fleet.deleteDevice(id, fields.data as "keep" | "purge");
            return { redirect: `/?${new URLSearchParams({ deleted: id })}` };
        }
      } catch (error) {
        if (error instanceof ProvisioningError || error instanceof FleetActionError) {
          return {
            forms: { lifecycleError: `Not done: ${error.message}` },
            status: error instanceof ProvisioningError ? 503 : 409,
          };
        }
        throw error;
      }
    }),
  );

  app.post(
    "/enrollment-requests/:rid/:decision",
    page(async (c, context) => {
      const fields = await readGuardedForm(c.req.raw);
      requireCsrf(auth, context.session, fields);
      const deviceId = fields.device ?? "";
      const decision = c.req.param("decision") ?? "";
      if (decision !== "approve" && decision !== "reject") {
        return await devicePage(context, deviceId, {
          lifecycleError: `Unknown decision '${decision.slice(0, 40)}'.`,
        }, { status: 404 });
      }
      try {
        await fleet.decideRequest(
          c.req.param("rid") ?? "",
          decision === "approve" ? "approved" : "rejected",
        );
      } catch (error) {
        if (error instanceof ProvisioningError || error instanceof FleetActionError) {
          return await devicePage(context, deviceId, {
            lifecycleError: `Not done: ${error.message}`,
          }, {
            status: error instanceof ProvisioningError ? 503 : 409,
          });
        }
        throw error;
      }
      return c.redirect(`${devicePath(deviceId)}?done=${decision}d#lifecycle`, 303);
    }),
  );

  app.get(
    "/login",
    (c) =>
      pageResponse(<FleetLoginPage context={contextOf(c)} next={safeNext(c.req.query("next"))} />),
  );

  app.post("/login", async (c) => {
    const fields = await readGuardedForm(c.req.raw);
    const next = safeNext(fields.next);
    if (!auth.checkSecret(fields.token ?? "")) {
      const error = fields.token
        ? "That is not the cloud's admin token."
        : "Enter the admin token.";
      return pageResponse(
        <FleetLoginPage
          context={{ ...contextOf(c), session: undefined }}
          next={next}
          error={error}
        />,
        { status: 401 },
      );
    }
    c.header("Set-Cookie", auth.issue({ secure: isHttps(c.req.raw) }).setCookie);
    return c.redirect(next, 303);
  });

  app.post("/logout", async (c) => {
    const fields = await readGuardedForm(c.req.raw);
    const session = auth.read(c.req.raw);
    if (session) requireCsrf(auth, session, fields);
    c.header("Set-Cookie", auth.clear({ secure: isHttps(c.req.raw) }));
    return c.redirect("/login", 303);
  });

  return app;
}

/** What the device page says after a lifecycle action redirected back to it. */
const DONE_NOTICES: Record<string, string> = {
  revoked: "Revoked: its broker credentials are removed and its session ended.",
  decommissioned: "Decommissioned: its credentials are removed; its data stays.",
  reinstated: "Reinstated: it re-enrolls with its device secret when it next asks.",
  "reinstated-reset":
    "Reinstated with its device secret forgotten: its next enrollment waits for an approval.",
  reset: "Sequence position reset: stored records above it were dropped; the device resends them.",
  approved:
    "Approved: the requester gets new credentials at its next attempt; the old ones are revoked.",
  rejected: "Rejected: that requester is refused from now on.",
};

/** The `:id` of a device route (the page wrapper's generic context does not know the path). */
function deviceIdParam(c: Context): string {
  return c.req.param("id") ?? "";
}
