/**
 * The agent console's page shell: the shared layout with its navigation, assets and the
 * log in / log out control.
 * @module
 */
import type { ComponentChildren, JSX } from "preact";
import type { AssetSet } from "../assets.ts";
import { Layout } from "../components/layout.tsx";
import { CSRF_FIELD, type Session } from "../session.ts";

/** What every agent page knows about the request. */
export interface PageContext {
  /** The request path, for `aria-current` and the login `next`. */
  path: string;
  deviceId: string;
  assets: AssetSet;
  /** True when changes need a login (the agent has an API token). */
  authRequired: boolean;
  session?: Session;
}

const NAV = [
  { href: "/", label: "Dashboard" },
  { href: "/readings", label: "Readings" },
  { href: "/events", label: "Events" },
  { href: "/settings", label: "Settings" },
];

/** `/login?next=<path>`. */
export function loginHref(path: string): string {
  return `/login?${new URLSearchParams({ next: path })}`;
}

/** A whole agent console page. */
export function AgentPage(
  props: { context: PageContext; title: string; children: ComponentChildren },
): JSX.Element {
  const { context } = props;
  const stylesheet = context.assets.href("app.css");
  const script = context.assets.href("agent.js");
  return (
    <Layout
      title={props.title}
      siteName="Outpost agent"
      siteDetail={context.deviceId}
      nav={NAV}
      currentPath={context.path}
      stylesheets={stylesheet ? [stylesheet] : []}
      scripts={script ? [script] : []}
      account={context.authRequired && <Account context={context} />}
    >
      {props.children}
    </Layout>
  );
}

function Account({ context }: { context: PageContext }): JSX.Element {
  if (!context.session) {
    return (
      <a class="button" href={loginHref(context.path)}>
        Log in
      </a>
    );
  }
  return (
    <form method="post" action="/logout">
      <input type="hidden" name={CSRF_FIELD} value={context.session.csrfToken} />
      <button type="submit" class="button">Log out</button>
    </form>
  );
}
