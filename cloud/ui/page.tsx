/**
 * The fleet console's page shell: the shared layout with its navigation, assets and the log
 * out control, and the pages every route may answer with (login, starting, not found).
 * @module
 */
import type { ComponentChildren, JSX } from "preact";
import { type AssetSet, pageAssets } from "@outpost/web/assets";
import { AccountControl } from "@outpost/web/components/account";
import { Layout, PageHeader } from "@outpost/web/components/layout";
import { LoginForm } from "@outpost/web/components/login_form";
import type { Session } from "@outpost/web/session";

/** What every fleet page knows about the request. */
export interface FleetContext {
  /** The request path, for `aria-current` and the login `next`. */
  path: string;
  assets: AssetSet;
  session?: Session;
}

const NAV = [
  { href: "/", label: "Devices" },
  { href: "/rollouts", label: "Rollouts" },
  { href: "/jobs", label: "Jobs" },
];

/** A whole fleet console page. */
export function FleetPage(
  props: { context: FleetContext; title: string; children: ComponentChildren },
): JSX.Element {
  const { context } = props;
  return (
    <Layout
      title={props.title}
      siteName="Outpost fleet"
      siteDetail="cloud"
      nav={NAV}
      currentPath={context.path}
      {...pageAssets(context.assets, "fleet.js")}
      account={context.session && <AccountControl session={context.session} path={context.path} />}
    >
      {props.children}
    </Layout>
  );
}

/** Props of {@link FleetLoginPage}. */
export interface FleetLoginPageProps {
  context: FleetContext;
  /** Where to go after logging in (a local path). */
  next: string;
  error?: string;
  /** Why the login is asked for. */
  reason?: string;
}

/** `/login`: the admin token in exchange for a session cookie. */
export function FleetLoginPage(props: FleetLoginPageProps): JSX.Element {
  return (
    <FleetPage context={props.context} title="Log in">
      <LoginForm
        lead={props.reason ?? "The fleet console needs the cloud's admin token."}
        next={props.next}
        label="Admin token"
        hint="The cloud's OUTPOST_ADMIN_TOKEN (or the admin-token file in its data directory). It is checked once; the browser keeps only a session cookie."
        error={props.error}
      />
    </FleetPage>
  );
}

/** Shown (503) while the database is not migrated yet. */
export function FleetStartingPage(props: { context: FleetContext }): JSX.Element {
  return (
    <FleetPage context={props.context} title="Starting">
      <PageHeader
        title="Starting up"
        lead="The cloud is preparing its database. Reload in a moment."
      />
    </FleetPage>
  );
}

/** Shown (404) for a device that is not enrolled. */
export function DeviceNotFoundPage(props: { context: FleetContext; id: string }): JSX.Element {
  return (
    <FleetPage context={props.context} title="Device not found">
      <PageHeader
        title="Device not found"
        lead={
          <>
            No device with the id <code>{props.id}</code> is enrolled.
          </>
        }
      />
      <p>
        <a href="/">Back to all devices</a>
      </p>
    </FleetPage>
  );
}
