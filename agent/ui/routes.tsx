/**
 * The agent console: server-rendered Preact pages as a Hono sub-app, mounted at `/` by
 * `createAgentApp({ ui })`. Pages: `/` dashboard, `/readings`, `/events` (+ `POST /events`),
 * `/settings`, `/login`, `POST /login`, `POST /logout`, and the client assets at `/assets/*`.
 *
 * Reads are open. When the agent has an API token, changes need a session from `/login` and
 * every form post carries the session's CSRF token; every form post must also come from this
 * origin (see `web/session.ts`).
 * @module
 */
import { type Context, Hono } from "hono";
import type { ConsoleStore } from "./console_store.ts";
import { assetRoutes, type AssetSet } from "@outpost/web/assets";
import type { SyncStatusView } from "./components/sync.tsx";
import { unenrolledConnection } from "../sync/state.ts";
import { loginHref, readGuardedForm, requireCsrf, safeNext } from "@outpost/web/form_guard";
import { pageResponse, startingResponse } from "@outpost/web/render";
import { isHttps, type SessionAuth } from "@outpost/web/session";
import { emptyEventForm, eventFieldRules, parseEventForm } from "./event_form.ts";
import type { PageContext } from "./page.tsx";
import {
  createDashboardLoader,
  DashboardPage,
  parsePins,
  pinsCookie,
  pinsFromCookie,
} from "./pages/dashboard.tsx";
import { EVENTS_PAGE_LIMIT, EventsPage } from "./pages/events.tsx";
import { LoginPage, StartingPage } from "./pages/login.tsx";
import { loadReadings, parseReadingsFilter, ReadingsPage } from "./pages/readings.tsx";
import { type EnrollmentView, SettingsPage } from "./pages/settings.tsx";
import type { EventFormValues, EventsPanelProps } from "./islands/events_panel.tsx";
import { ErrorPage } from "./pages/error.tsx";
import type { HttpError } from "@outpost/platform/http_error";

/** Dependencies of {@link createAgentUi}. */
export interface AgentUiOptions {
  store: ConsoleStore;
  deviceId: string;
  version: string;
  assets: AssetSet;
  /** The same data as `GET /api/v1/sync`; default: unenrolled with the outbox counters. */
  syncStatus?: () => Promise<SyncStatusView>;
  /** Enrollment facts for `/settings`; default: not enrolled, no cloud. */
  enrollment?: () => Promise<EnrollmentView>;
  /** Present when the agent has an API token: changes then need a login. */
  session?: SessionAuth;
  /** False until the database is migrated (pages answer 503 meanwhile). */
  isReady?: () => boolean;
  /** Days of local retention in force (a function: desired state may change it). */
  retentionDays?: number | (() => number);
  /** Dashboard refresh interval in the browser; default 5000, 0 turns it off. */
  pollMs?: number;
  now?: () => number;
}

/**
 * The console's error page for a browser's request (`createAgentApp({ errorPage })` uses it for
 * 404s and errors outside `/api/`).
 */
export function createAgentErrorPage(
  options: Pick<AgentUiOptions, "deviceId" | "assets" | "session">,
): (request: Request, error: HttpError) => Response {
  return function agentErrorPage(request: Request, error: HttpError): Response {
    const context: PageContext = {
      path: new URL(request.url).pathname,
      deviceId: options.deviceId,
      assets: options.assets,
      authRequired: options.session !== undefined,
      session: options.session?.read(request),
    };
    return pageResponse(
      <ErrorPage context={context} status={error.status} message={error.message} />,
      { status: error.status },
    );
  };
}

/** Builds the console's routes. */
export function createAgentUi(options: AgentUiOptions): Hono {
  const { store, session: auth } = options;
  const now = options.now ?? Date.now;
  const isReady = options.isReady ?? (() => true);
  const rules = eventFieldRules();
  const syncStatus = options.syncStatus ?? (async () => ({
    ...unenrolledConnection(),
    ...(await store.outboxStats()),
  }));
  const enrollment = options.enrollment ?? (() => Promise.resolve({ enrolled: false }));
  const app = new Hono();

  const contextOf = (c: Context): PageContext => ({
    path: c.req.path,
    deviceId: options.deviceId,
    assets: options.assets,
    authRequired: auth !== undefined,
    session: auth?.read(c.req.raw),
  });

  /** Wraps a page handler: 503 page until ready, then the handler with the page context. */
  const page = (handler: (c: Context, context: PageContext) => Promise<Response> | Response) =>
    async function renderPageRoute(c: Context): Promise<Response> {
      const context = contextOf(c);
      if (!isReady()) {
        return startingResponse(<StartingPage context={context} />);
      }
      return await handler(c, context);
    };

  const eventsPanel = async (
    context: PageContext,
    form: { values?: EventFormValues; errors?: Record<string, string> } = {},
  ): Promise<EventsPanelProps> => ({
    events: await store.listEvents({ limit: EVENTS_PAGE_LIMIT }),
    // The fragment brings a re-rendered form (422) back into view where it is.
    action: "/events#new-event",
    apiUrl: "/api/v1/events",
    csrfToken: context.session?.csrfToken,
    canPost: !auth || context.session !== undefined,
    loginHref: loginHref("/events"),
    values: form.values ?? emptyEventForm(),
    errors: form.errors ?? {},
    rules,
  });

  app.route("/", assetRoutes(options.assets));

  const loadDashboard = createDashboardLoader({
    store,
    syncStatus,
    now,
    pollMs: options.pollMs ?? 5000,
  });
  app.get(
    "/",
    page(async (c, context) => {
      // The chooser's GET form (`choose=1`, `pin=…`) sets the pins; a visit without it reads
      // them from the cookie the form set.
      const choosing = c.req.query("choose") !== undefined;
      const pins = choosing
        ? parsePins(c.req.queries("pin") ?? [])
        : pinsFromCookie(c.req.header("cookie"));
      const data = await loadDashboard(pins);
      const headers: HeadersInit = choosing
        ? { "Set-Cookie": pinsCookie(data.pinned, isHttps(c.req.raw)) }
        : {};
      return pageResponse(<DashboardPage context={context} data={data} />, { headers });
    }),
  );

  app.get(
    "/readings",
    page(async (c, context) => {
      const filter = parseReadingsFilter(c.req.query(), now());
      const sensors = await store.listSensors();
      if (!filter.ok) {
        return pageResponse(<ReadingsPage context={context} sensors={sensors} filter={filter} />, {
          status: 422,
        });
      }
      const data = await loadReadings(store, filter);
      return pageResponse(
        <ReadingsPage context={context} sensors={sensors} filter={filter} data={data} />,
      );
    }),
  );

  app.get(
    "/events",
    page(async (c, context) => {
      const panel = await eventsPanel(context);
      const addedId = c.req.query("added");
      const added = addedId ? panel.events.find((event) => event.id === addedId) : undefined;
      if (added) panel.added = added.id;
      return pageResponse(<EventsPage context={context} panel={panel} added={added} />);
    }),
  );

  app.post(
    "/events",
    page(async (c, context) => {
      const fields = await readGuardedForm(c.req.raw);
      if (auth && !context.session) {
        return pageResponse(
          <LoginPage context={context} next="/events" reason="Log in to add events." />,
          { status: 401 },
        );
      }
      requireCsrf(auth, context.session, fields);
      const result = parseEventForm(fields, rules);
      if (!result.ok) {
        const panel = await eventsPanel(context, { values: result.values, errors: result.errors });
        return pageResponse(<EventsPage context={context} panel={panel} />, { status: 422 });
      }
      const event = await store.insertEvent(result.event);
      return c.redirect(`/events?${new URLSearchParams({ added: event.id })}`, 303);
    }),
  );

  app.get(
    "/settings",
    page(async (_c, context) => {
      const [facts, config] = await Promise.all([enrollment(), store.readConfig()]);
      return pageResponse(
        <SettingsPage
          context={context}
          version={options.version}
          enrollment={facts}
          config={config}
          apiTokenSet={auth !== undefined}
          retentionDays={typeof options.retentionDays === "function"
            ? options.retentionDays()
            : options.retentionDays}
        />,
      );
    }),
  );

  app.get(
    "/login",
    page((c, context) =>
      pageResponse(<LoginPage context={context} next={safeNext(c.req.query("next"))} />)
    ),
  );

  app.post(
    "/login",
    page(async (c, context) => {
      const fields = await readGuardedForm(c.req.raw);
      const next = safeNext(fields.next);
      if (!auth) return c.redirect(next, 303);
      if (!auth.checkSecret(fields.token ?? "")) {
        const error = fields.token ? "That is not this agent's API token." : "Enter the API token.";
        return pageResponse(
          <LoginPage context={{ ...context, session: undefined }} next={next} error={error} />,
          { status: 401 },
        );
      }
      const { setCookie } = auth.issue({ secure: isHttps(c.req.raw) });
      c.header("Set-Cookie", setCookie);
      return c.redirect(next, 303);
    }),
  );

  app.post(
    "/logout",
    page(async (c, context) => {
      const fields = await readGuardedForm(c.req.raw);
      if (auth) {
        if (context.session) requireCsrf(auth, context.session, fields);
        c.header("Set-Cookie", auth.clear({ secure: isHttps(c.req.raw) }));
      }
      return c.redirect("/", 303);
    }),
  );

  return app;
}
