/**
 * The login form: one secret (the agent's API token or the cloud's admin token) exchanged once
 * for a session cookie, and the `next` path to return to.
 * @module
 */
import type { JSX } from "preact";
import { ErrorSummary, Hidden, TextInput } from "./form.tsx";
import { PageHeader } from "./layout.tsx";

/** Props of {@link LoginForm}. */
export interface LoginFormProps {
  /** Why the login is asked for (under the page's heading). */
  lead: string;
  /** Where to go after logging in (a local path). */
  next: string;
  /** The secret's name, e.g. "API token". */
  label: string;
  /** Where the secret comes from. */
  hint: string;
  error?: string;
}

/** The page's heading and the form, with an error summary when the last attempt failed. */
export function LoginForm(props: LoginFormProps): JSX.Element {
  return (
    <>
      <PageHeader title="Log in" lead={props.lead} />
      <ErrorSummary errors={{ token: props.error }} />
      <form method="post" action="/login" class="login-form">
        <Hidden name="next" value={props.next} />
        <TextInput
          name="token"
          label={props.label}
          type="password"
          required
          autocomplete="current-password"
          hint={props.hint}
          error={props.error}
        />
        <button type="submit" class="button">Log in</button>
      </form>
    </>
  );
}
