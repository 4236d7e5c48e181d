/**
 * Browser-test helpers: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), contexts that refuse every request not to 127.0.0.1 and remember the attempts,
 * and screenshots under `test-output/screenshots/`.
 * @module
 */
import assert from "node:assert/strict";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";
import { join } from "node:path";
import { REPO_ROOT } from "../support/process.ts";

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";
/** Screenshots of the latest run. */
export const SCREENSHOT_DIR = join(REPO_ROOT, "test-output", "screenshots");

/** Launches headless Chromium; fails with the package to install when it is missing. */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM_PATH);
  } catch {
    throw new Error(
      `Cannot run browser tests: ${CHROMIUM_PATH} is missing; install the Debian package ` +
        "`chromium` (apt-get update && apt-get install -y chromium)",
    );
  }
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A context whose off-host requests are aborted and listed in `blocked`. */
export interface LocalContext {
  context: BrowserContext;
  /** URLs the pages tried to fetch from anywhere but 127.0.0.1. */
  blocked: string[];
}

/** A browser context that may only talk to 127.0.0.1. */
export async function localContext(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<LocalContext> {
  const context = await browser.newContext(options);
  const blocked: string[] = [];
  await context.route("**/*", async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return await route.continue();
    blocked.push(url.href);
    await route.abort("blockedbyclient");
  });
  return { context, blocked };
}

/** The path of screenshot `name` (creating the directory). */
export async function screenshotPath(name: string): Promise<string> {
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, `${name}.png`);
}

/** Builds the UI's client assets with `deno task build:web`. */
export async function buildWebAssets(): Promise<void> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "build:web"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`deno task build:web failed:\n${new TextDecoder().decode(result.stderr)}`);
  }
}

/** Polls until `locator`'s text is `expected` (the live island updates it on its own). */
export async function waitForText(
  locator: Locator,
  expected: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let text: string | null = null;
  while (Date.now() < deadline) {
    text = await locator.textContent();
    if (text === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`expected '${expected}' within ${timeoutMs} ms; last text: '${text}'`);
}

/** Sets a marker on `window` that a full page load would erase. */
export async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => Object.assign(globalThis, { __outpostMarker: true }));
}

/** True while the page marked by {@link markPage} has not been loaded again. */
export async function stillSamePage(page: Page): Promise<boolean> {
  return await page.evaluate(() =>
    (globalThis as { __outpostMarker?: boolean }).__outpostMarker === true
  );
}

/**
 * Collects what `page` reports as console errors and uncaught exceptions from now on; messages
 * matching `expected` (errors a test provokes on purpose) are left out.
 */
export function collectConsoleErrors(page: Page, expected?: RegExp): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && !expected?.test(message.text())) errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

/** Tap targets of a page: links, buttons, controls; a checkbox or radio counts by its label. */
const TAP_TARGETS =
  "nav a, .button, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), " +
  "select, textarea, .device-link, .rollout-link, .job-link, .check, .jump-links a";

/**
 * Checks the phone layout of the page on screen: nothing scrolls sideways, every tap target is
 * at least 44px tall, the main navigation is one line, and data tables are cards whose cells
 * (Message, Status, Result …) all lie within the screen.
 */
export async function assertPhoneLayout(page: Page, what: string): Promise<void> {
  const overflow = await page.evaluate<number>(
    "document.documentElement.scrollWidth - document.documentElement.clientWidth",
  );
  assert.ok(overflow <= 0, `${what} scrolls sideways by ${overflow}px on a phone`);
  const heights = await page.locator(TAP_TARGETS).evaluateAll((elements) =>
    elements.filter((e) => e.getClientRects().length > 0) // not inside a closed <details>
      .map((e) => Math.round(e.getBoundingClientRect().height))
  );
  assert.ok(heights.every((h) => h >= 44), `${what}: tap targets ${heights.join(", ")}`);
  const navTops = await page.locator('header nav[aria-label="Main"] a').evaluateAll((links) =>
    links.map((link) => Math.round(link.getBoundingClientRect().top))
  );
  assert.equal(new Set(navTops).size, 1, `${what}: the navigation wraps (${navTops.join(", ")})`);
  const cells = await page.locator("table.cards td").evaluateAll((tds) => {
    const style = (globalThis as unknown as {
      getComputedStyle(element: unknown, pseudo?: string): { display: string; content: string };
    }).getComputedStyle;
    return tds.map((td) => ({
      rowDisplay: style(td.closest("tr")!).display,
      right: Math.round(td.getBoundingClientRect().right),
      label: style(td, "::before").content,
    }));
  });
  const width = await page.evaluate<number>("document.documentElement.clientWidth");
  for (const cell of cells) {
    assert.equal(cell.rowDisplay, "block", `${what}: a table row is not a card`);
    assert.ok(cell.right <= width, `${what}: a cell ends at ${cell.right}px, off the screen`);
    assert.notEqual(cell.label, "none", `${what}: a card cell has no column label`);
  }
}

/** Attributes of the page's SVG that are not finite numbers where a number belongs. */
export async function brokenSvgAttributes(page: Page): Promise<string[]> {
  return await page.locator("svg *").evaluateAll((elements) =>
    elements.flatMap((element) =>
      [...element.attributes]
        .filter((attribute) => /NaN|Infinity/.test(attribute.value))
        .map((attribute) => `<${element.tagName} ${attribute.name}="${attribute.value}">`)
    )
  );
}
