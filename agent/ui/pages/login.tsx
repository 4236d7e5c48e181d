/**
 * `/login`: exchange the agent's API token for a session cookie. Also the "starting up" page.
 * @module
 */
import type { JSX } from "preact";
import { PageHeader } from "@outpost/web/components/layout";
import { LoginForm } from "@outpost/web/components/login_form";
import { AgentPage, type PageContext } from "../page.tsx";

/** Props of {@link LoginPage}. */
export interface LoginPageProps {
  context: PageContext;
  /** Where to go after logging in (a local path). */
  next: string;
  error?: string;
  /** Why the login is asked for, e.g. "Log in to add events." */
  reason?: string;
}

/** The login form, or a note that no login is needed. */
export function LoginPage(props: LoginPageProps): JSX.Element {
  if (!props.context.authRequired) {
    return (
      <AgentPage context={props.context} title="Log in">
        <PageHeader title="No login needed" />
        <p>
          This agent has no API token (OUTPOST_API_TOKEN), so reading and writing are open.{" "}
          <a href="/">Go to the dashboard</a>.
        </p>
      </AgentPage>
    );
  }
  return (
    <AgentPage context={props.context} title="Log in">
      <LoginForm
        lead={props.reason ?? "Reading is open; adding events needs the agent's API token."}
        next={props.next}
        label="API token"
        hint="The value of OUTPOST_API_TOKEN on this device. It is checked once; the browser keeps only a session cookie."
        error={props.error}
      />
    </AgentPage>
  );
}

/** Shown (503) while the database is not migrated yet. */
export function StartingPage(props: { context: PageContext }): JSX.Element {
  return (
    <AgentPage context={props.context} title="Starting">
      <PageHeader
        title="Starting up"
        lead="The agent is preparing its database. Reload in a moment."
      />
    </AgentPage>
  );
}
