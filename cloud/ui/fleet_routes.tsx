/**
 * The console's rollout and job routes: `/rollouts`, `/rollouts/new`, `POST /rollouts`
 * (preview or create), `/rollouts/:id`, `POST /rollouts/:id/{pause,resume,abort,rollback}`, and
 * the same for `/jobs` (with `cancel`). They call the API's own use cases
 * (`FleetOperations.rollouts` / `.jobs`), so the console does exactly what the API does.
 * @module
 */
import type { Context, Hono } from "hono";
import { readGuardedForm, requireCsrf } from "@outpost/web/form_guard";
import { pageResponse } from "@outpost/web/render";
import type { Session, SessionAuth } from "@outpost/web/session";
import { FleetError } from "../fleet/errors.ts";
import type { FleetOperations, FleetReadModel } from "../fleet/operations.ts";
import type { Selector } from "../fleet/selector.ts";
import { decodeListCursor, encodeListCursor } from "../http/paging.ts";
import { rolloutBody } from "../http/rollouts.ts";
import { defaultJobName } from "../http/jobs.ts";
import { formatSelector } from "../fleet/selector.ts";
import { JOB_DEFAULTS, parseJobForm, parseRolloutForm, ROLLOUT_DEFAULTS } from "./fleet_forms.ts";
import type { FleetContext } from "./page.tsx";
import { JobNotFoundPage, JobPage, jobPath, JobsPage, NewJobPage } from "./pages/jobs.tsx";
import {
  NewRolloutPage,
  RolloutNotFoundPage,
  RolloutPage,
  rolloutPath,
  RolloutsPage,
} from "./pages/rollouts.tsx";

/** A page context with a session. */
export type SignedInContext = FleetContext & { session: Session };

/** Wraps a handler: readiness, login, the page context (see `routes.tsx`). */
export type PageWrapper = (
  handler: (c: Context, context: SignedInContext) => Promise<Response>,
) => (c: Context) => Promise<Response>;

/** Dependencies of {@link installFleetRoutes}. */
export interface FleetRoutesOptions {
  page: PageWrapper;
  fleet: Pick<FleetOperations, "rollouts" | "jobs">;
  reads: Pick<FleetReadModel, "countDevices">;
  auth: SessionAuth;
  pollMs: number;
  now: () => number;
}

/** Rollouts and jobs listed per page of the console. */
const LIST_PAGE = 20;
/** The rollout form: a desired-state patch as text, urlencoded (see the device editor). */
const MAX_ROLLOUT_FORM_BYTES = 1024 * 1024;

const ROLLOUT_DONE: Record<string, string> = {
  created: "Rollout started: its first wave starts within a second.",
  pause: "Paused: no further wave starts until it is resumed.",
  resume: "Resumed.",
  abort:
    "Aborted: waves not started are skipped; devices that had not answered get their previous values back.",
  rollback: "Rollback started.",
};

const JOB_DONE: Record<string, string> = {
  created: "Job started.",
  cancel: "Cancelled: commands not delivered yet will not be.",
};

function idParam(c: Context): string {
  return c.req.param("id") ?? "";
}

function listPosition(cursor: string | undefined) {
  if (!cursor) return undefined;
  try {
    return decodeListCursor(cursor);
  } catch {
    return undefined;
  }
}

/** Adds the rollout and job routes to the console app. */
export function installFleetRoutes(app: Hono, options: FleetRoutesOptions): void {
  const { page, fleet, auth, pollMs, now } = options;

  async function preview(selector: Selector) {
    const counts = await options.reads.countDevices({ selector });
    return { total: counts.total, online: counts.online };
  }

  const rolloutPage = async (
    context: SignedInContext,
    id: string,
    extra: { notice?: string; refused?: string; status?: number } = {},
  ): Promise<Response> => {
    const rollout = /^[\w-]{1,64}$/.test(id) ? await fleet.rollouts.get(id) : undefined;
    if (!rollout) {
      return pageResponse(<RolloutNotFoundPage context={context} id={id} />, { status: 404 });
    }
    return pageResponse(
      <RolloutPage
        context={context}
        notice={extra.notice}
        refused={extra.refused}
        progress={{
          rollout: rolloutBody(rollout),
          apiUrl: `/api/v1${rolloutPath(id)}`,
          csrfToken: context.session.csrfToken,
          pollMs,
          generatedAt: new Date(now()).toISOString(),
        }}
      />,
      { status: extra.status ?? 200 },
    );
  };

  app.get(
    "/rollouts",
    page(async (c, context) => {
      const after = listPosition(c.req.query("cursor"));
      const list = await fleet.rollouts.list({ limit: LIST_PAGE, ...(after ? { after } : {}) });
      return pageResponse(
        <RolloutsPage
          context={context}
          rollouts={list.items.map(rolloutBody)}
          paged={after !== undefined}
          {...(list.next ? { next: `/rollouts?cursor=${encodeListCursor(list.next)}` } : {})}
        />,
      );
    }),
  );

  app.get(
    "/rollouts/new",
    page((c, context) =>
      Promise.resolve(pageResponse(
        <NewRolloutPage
          context={context}
          values={{ ...ROLLOUT_DEFAULTS, selector: (c.req.query("selector") ?? "").slice(0, 2000) }}
        />,
      ))
    ),
  );

  app.post(
    "/rollouts",
    page(async (c, context) => {
      const fields = await readGuardedForm(c.req.raw, MAX_ROLLOUT_FORM_BYTES);
      requireCsrf(auth, context.session, fields);
      const result = parseRolloutForm(fields);
      if (!result.ok) {
        return pageResponse(
          <NewRolloutPage context={context} values={result.values} errors={result.errors} />,
          { status: 422 },
        );
      }
      if (fields.action === "preview") {
        return pageResponse(
          <NewRolloutPage
            context={context}
            values={result.values}
            preview={await preview(result.input.selector)}
          />,
        );
      }
      const created = await fleet.rollouts.create(result.input);
      return c.redirect(`${rolloutPath(created.id)}?done=created`, 303);
    }),
  );

  app.get(
    "/rollouts/:id",
    page(async (c, context) =>
      await rolloutPage(context, idParam(c), { notice: ROLLOUT_DONE[c.req.query("done") ?? ""] })
    ),
  );

  for (const action of ["pause", "resume", "abort", "rollback"] as const) {
    app.post(
      `/rollouts/:id/${action}`,
      page(async (c, context) => {
        const fields = await readGuardedForm(c.req.raw);
        requireCsrf(auth, context.session, fields);
        const id = idParam(c);
        try {
          if (action === "rollback") {
            const created = await fleet.rollouts.rollback(id);
            return c.redirect(`${rolloutPath(created.id)}?done=rollback`, 303);
          }
          await fleet.rollouts[action](id);
        } catch (error) {
          if (!(error instanceof FleetError)) throw error;
          if (error.code === "not_found") return await rolloutPage(context, id);
          return await rolloutPage(context, id, { refused: error.message, status: 409 });
        }
        return c.redirect(`${rolloutPath(id)}?done=${action}`, 303);
      }),
    );
  }

  const jobPage = async (
    context: SignedInContext,
    id: string,
    extra: { notice?: string; refused?: string; status?: number } = {},
  ): Promise<Response> => {
    const job = /^[\w-]{1,64}$/.test(id) ? await fleet.jobs.get(id) : undefined;
    if (!job) return pageResponse(<JobNotFoundPage context={context} id={id} />, { status: 404 });
    return pageResponse(
      <JobPage
        context={context}
        notice={extra.notice}
        refused={extra.refused}
        progress={{
          job,
          apiUrl: `/api/v1${jobPath(id)}`,
          csrfToken: context.session.csrfToken,
          pollMs,
          generatedAt: new Date(now()).toISOString(),
        }}
      />,
      { status: extra.status ?? 200 },
    );
  };

  app.get(
    "/jobs",
    page(async (c, context) => {
      const after = listPosition(c.req.query("cursor"));
      const list = await fleet.jobs.list({ limit: LIST_PAGE, ...(after ? { after } : {}) });
      return pageResponse(
        <JobsPage
          context={context}
          jobs={list.items}
          paged={after !== undefined}
          {...(list.next ? { next: `/jobs?cursor=${encodeListCursor(list.next)}` } : {})}
        />,
      );
    }),
  );

  app.get(
    "/jobs/new",
    page((c, context) =>
      Promise.resolve(pageResponse(
        <NewJobPage
          context={context}
          values={{ ...JOB_DEFAULTS, selector: (c.req.query("selector") ?? "").slice(0, 2000) }}
        />,
      ))
    ),
  );

  app.post(
    "/jobs",
    page(async (c, context) => {
      const fields = await readGuardedForm(c.req.raw);
      requireCsrf(auth, context.session, fields);
      const result = parseJobForm(fields);
      if (!result.ok) {
        return pageResponse(
          <NewJobPage context={context} values={result.values} errors={result.errors} />,
          { status: 422 },
        );
      }
      if (fields.action === "preview") {
        return pageResponse(
          <NewJobPage
            context={context}
            values={result.values}
            preview={await preview(result.input.selector)}
          />,
        );
      }
      const { input } = result;
      const created = await fleet.jobs.create({
        name: input.name ?? defaultJobName(input.command.name, formatSelector(input.selector)),
        selector: input.selector,
        command: input.command,
        ratePerMinute: input.ratePerMinute,
      });
      return c.redirect(`${jobPath(created.id)}?done=created`, 303);
    }),
  );

  app.get(
    "/jobs/:id",
    page(async (c, context) =>
      await jobPage(context, idParam(c), { notice: JOB_DONE[c.req.query("done") ?? ""] })
    ),
  );

  app.post(
    "/jobs/:id/cancel",
    page(async (c, context) => {
      const fields = await readGuardedForm(c.req.raw);
      requireCsrf(auth, context.session, fields);
      const id = idParam(c);
      try {
        await fleet.jobs.cancel(id);
      } catch (error) {
        if (!(error instanceof FleetError)) throw error;
        if (error.code === "not_found") return await jobPage(context, id);
        return await jobPage(context, id, { refused: error.message, status: 409 });
      }
      return c.redirect(`${jobPath(id)}?done=cancel`, 303);
    }),
  );
}
