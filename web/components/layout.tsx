/**
 * The page shell: document head (viewport, stylesheet, module scripts, referrer policy), a skip
 * link, the site header with navigation, and the main landmark.
 * @module
 */
import type { ComponentChildren, JSX } from "preact";

/** One navigation link. */
export interface NavItem {
  href: string;
  label: string;
}

/** Props of {@link Layout}. */
export interface LayoutProps {
  /** The document title (the site name is appended). */
  title: string;
  siteName: string;
  /** Shown next to the site name, e.g. the device id. */
  siteDetail?: string;
  nav: NavItem[];
  /** The current path, marked `aria-current="page"` in the navigation. */
  currentPath: string;
  stylesheets: string[];
  /** Module scripts (the island bundle); none when the client assets are not built. */
  scripts: string[];
  /** Account controls at the end of the header (log in / log out). */
  account?: ComponentChildren;
  children: ComponentChildren;
}

/** A whole HTML document around `children`. */
export function Layout(props: LayoutProps): JSX.Element {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {/* Same-origin form posts then carry an Origin header, which the CSRF check reads. */}
        <meta name="referrer" content="same-origin" />
        <meta name="color-scheme" content="light" />
        <title>{`${props.title} · ${props.siteName}`}</title>
        {props.stylesheets.map((href) => <link key={href} rel="stylesheet" href={href} />)}
        {props.scripts.map((src) => <script key={src} type="module" src={src} />)}
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <header class="site-header">
          <div class="site-brand">
            <a href="/" class="site-name">{props.siteName}</a>
            {props.siteDetail && <span class="site-detail">{props.siteDetail}</span>}
          </div>
          <nav aria-label="Main">
            <ul>
              {props.nav.map((item) => (
                <li>
                  <a
                    href={item.href}
                    aria-current={isCurrent(item.href, props.currentPath) ? "page" : undefined}
                  >
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          {props.account && <div class="account">{props.account}</div>}
        </header>
        <main id="main" tabIndex={-1}>
          {props.children}
        </main>
      </body>
    </html>
  );
}

function isCurrent(href: string, path: string): boolean {
  return href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
}

/** A page's `h1` with an optional lead paragraph. */
export function PageHeader(props: { title: string; lead?: ComponentChildren }): JSX.Element {
  return (
    <div class="page-header">
      <h1>{props.title}</h1>
      {props.lead && <p class="lead">{props.lead}</p>}
    </div>
  );
}

/** A titled section (`h2`) labelled by its heading; `#<id>` links jump to it. */
export function Section(
  props: { id: string; title: string; children: ComponentChildren; actions?: ComponentChildren },
): JSX.Element {
  return (
    <section class="section" id={props.id} aria-labelledby={`${props.id}-heading`}>
      <div class="section-head">
        <h2 id={`${props.id}-heading`}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

/** Links to a long page's sections ("On this page"), so a phone need not scroll through all. */
export function JumpLinks(props: { links: { id: string; label: string }[] }): JSX.Element {
  return (
    <nav class="jump-links" aria-label="On this page">
      <ul>
        {props.links.map((link) => (
          <li>
            <a href={`#${link.id}`}>{link.label}</a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
