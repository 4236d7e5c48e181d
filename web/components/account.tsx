/**
 * The header's account control: a "Log in" link without a session, a "Log out" form (carrying
 * the session's CSRF token) with one.
 * @module
 */
import type { JSX } from "preact";
import { loginHref } from "../form_guard.ts";
import { CSRF_FIELD, type Session } from "../session.ts";

/** Props of {@link AccountControl}. */
export interface AccountControlProps {
  session?: Session;
  /** The current path, where logging in returns to. */
  path: string;
}

/** Log in link or log out button. */
export function AccountControl(props: AccountControlProps): JSX.Element {
  if (!props.session) {
    return (
      <a class="button" href={loginHref(props.path)}>
        Log in
      </a>
    );
  }
  return (
    <form method="post" action="/logout">
      <input type="hidden" name={CSRF_FIELD} value={props.session.csrfToken} />
      <button type="submit" class="button">Log out</button>
    </form>
  );
}
