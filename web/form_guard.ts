/**
 * The checks every UI form post goes through, shared by the agent and the fleet console:
 * same-origin only, the session's CSRF token, and `next` redirects to local paths only.
 * @module
 */
import { HttpError } from "@outpost/platform/http_error";
import { readFormBody } from "./form_body.ts";
import { CSRF_FIELD, isSameOriginRequest, type Session, type SessionAuth } from "./session.ts";

/**
 * Reads a form post after refusing cross-site ones (403 `cross_site_request`).
 * @param maxBytes the largest body accepted; default that of {@link readFormBody}.
 */
export async function readGuardedForm(
  request: Request,
  maxBytes?: number,
): Promise<Record<string, string>> {
  if (!isSameOriginRequest(request)) {
    throw new HttpError(403, "cross_site_request", "Form posts from other sites are refused");
  }
  return await readFormBody(request, maxBytes);
}

/**
 * Throws 403 `csrf_failed` unless `fields` carry the CSRF token of `session`. Without an
 * authority or a session there is nothing to check (the caller decides whether that is allowed).
 */
export function requireCsrf(
  auth: SessionAuth | undefined,
  session: Session | undefined,
  fields: Record<string, string>,
): void {
  if (auth && session && !auth.checkCsrf(session, fields[CSRF_FIELD])) {
    throw new HttpError(
      403,
      "csrf_failed",
      "The form's CSRF token is missing or belongs to another session; reload the page and retry",
    );
  }
}

/** A local path to go to after logging in; anything else (other sites, `//host`) is `/`. */
export function safeNext(next: string | undefined): string {
  return next && /^\/(?![/\\])[^\s]*$/.test(next) ? next : "/";
}

/** `/login?next=<path>`. */
export function loginHref(path: string): string {
  return `/login?${new URLSearchParams({ next: path })}`;
}
