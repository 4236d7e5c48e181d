/**
 * The agent console's page shell: the shared layout with its navigation, assets and the
 * log in / log out control.
 * @module
 */
import type { ComponentChildren, JSX } from "preact";
import { type AssetSet, pageAssets } from "@outpost/web/assets";
import { AccountControl } from "@outpost/web/components/account";
import { Layout } from "@outpost/web/components/layout";
import type { Session } from "@outpost/web/session";

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

/** A whole agent console page. */
export function AgentPage(
  props: { context: PageContext; title: string; children: ComponentChildren },
): JSX.Element {
  const { context } = props;
  return (
    <Layout
      title={props.title}
      siteName="Outpost agent"
      siteDetail={context.deviceId}
      nav={NAV}
      currentPath={context.path}
      {...pageAssets(context.assets, "agent.js")}
      account={context.authRequired && (
        <AccountControl session={context.session} path={context.path} />
      )}
    >
      {props.children}
    </Layout>
  );
}
