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
