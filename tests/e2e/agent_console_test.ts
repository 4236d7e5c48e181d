/**
 * The agent console in a real browser against a real agent process: pages load offline (no
 * request leaves 127.0.0.1), charts have one series per sensor (with tooltips, and finite at
 * the largest doubles), sensors can be pinned with and without JavaScript, the event form works
 * with and without JavaScript, the islands hydrate, browsers get HTML error pages, a cloud that
 * cannot be reached is said in words, the login works when a token is set, and the layout fits a
 * phone (cards, one-line navigation). Screenshots land in test-output/screenshots/.
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import {
  freePort,
  postJson,
  type RunningProcess,
  startTask,
  waitForOk,
} from "../support/process.ts";
import {
  assertPhoneLayout,
  brokenSvgAttributes,
  buildWebAssets,
  collectConsoleErrors,
  launchChromium,
  localContext,
  markPage,
  screenshotPath,
  stillSamePage,
  waitForText,
} from "./browser.ts";

const SENSORS = [
  { sensor: "hum", unit: "%", base: 45, swing: 8 },
  { sensor: "pressure", unit: "hPa", base: 1013, swing: 4 },
  { sensor: "temp", unit: "C", base: 21, swing: 2.5 },
];
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

interface Agent {
  base: string;
  process: RunningProcess;
  dataDir: string;
}

async function startAgent(env: Record<string, string> = {}): Promise<Agent> {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-e2e-" });
  const port = freePort();
  const process = startTask("agent", {
    env: {
      OUTPOST_PORT: String(port),
      OUTPOST_DATA_DIR: dataDir,
      OUTPOST_DEVICE_ID: "edge-pi-07",
      ...env,
    },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForOk(`${base}/readyz`, 60_000, process);
  return { base, process, dataDir };
}

async function stopAgent(agent: Agent | undefined): Promise<void> {
  if (!agent) return;
  await agent.process.stop();
  await Deno.remove(agent.dataDir, { recursive: true }).catch(() => {});
}

async function seed(base: string, headers: Record<string, string> = {}): Promise<void> {
  const now = Date.now();
  const readings = SENSORS.flatMap(({ sensor, unit, base: level, swing }, s) =>
    Array.from({ length: 60 }, (_, i) => ({
      sensor,
      unit,
      value: Math.round((level + swing * Math.sin(i / 6 + s) + (i % 7) * swing / 20) * 100) / 100,
      ts: new Date(now - (60 - i) * 60_000).toISOString(),
    }))
  );
  assert.equal((await postJson(`${base}/api/v1/readings`, readings, headers)).status, 201);
  for (
    const event of [
      { kind: "boot", severity: "info", message: "Agent started after power loss" },
      { kind: "pump:fault", severity: "critical", message: "Pump 2 stalled; restarted it" },
    ]
  ) {
    assert.equal((await postJson(`${base}/api/v1/events`, event, headers)).status, 201);
  }
}

async function apiEvents(base: string): Promise<{ kind: string; message: string }[]> {
  return (await (await fetch(`${base}/api/v1/events`)).json()).items;
}

Deno.test({
  name: "the agent console works in Chromium, with and without JavaScript, offline",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await buildWebAssets();
    let agent: Agent | undefined;
    let secured: Agent | undefined;
    let offline: Agent | undefined;
    let browser: Browser | undefined;
    try {
      agent = await startAgent();
      const base = agent.base;
      await seed(base);
      browser = await launchChromium();
      const desktop = await localContext(browser, { viewport: DESKTOP });
      const page = await desktop.context.newPage();
      // The 404 page is asked for on purpose.
      const consoleErrors = collectConsoleErrors(page, /status of 404 \(Not Found\)/);

      await t.step("the dashboard loads with one chart series per sensor", async () => {
        const response = await page.goto(`${base}/`);
        assert.equal(response?.status(), 200);
        assert.equal(await page.locator("h1").textContent(), "Dashboard");
        const series = await page.locator("svg path[data-series]").evaluateAll((paths) =>
          paths.map((path) => path.getAttribute("data-series"))
        );
        assert.deepEqual(series.sort(), SENSORS.map((s) => s.sensor));
        assert.equal(await page.locator('svg[role="img"] > title').count(), SENSORS.length);
        assert.match(
          (await page.locator(".sync-state").textContent()) ?? "",
          /Not enrolled/,
        );
        assert.equal(
          await page.locator("[data-sensor-count]").textContent(),
          `Showing all ${SENSORS.length} sensors.`,
        );
        // Each point's value and time is a native tooltip (an SVG <title>), no script needed.
        const tip = await page.locator("#chart-0-temp .hits circle title").last().textContent();
        assert.match(tip ?? "", /^temp: [\d.]+ C at \d\d:\d\d:\d\d UTC$/);
      });

      await t.step(
        "the live dashboard island hydrates and refreshes without a reload",
        async () => {
          await page.locator('outpost-island[data-island="LiveDashboard"][data-hydrated]')
            .waitFor();
          await page.locator('.live-indicator[data-live-state="live"]').waitFor();
          await page.screenshot({ path: await screenshotPath("agent-dashboard-desktop") });
          await markPage(page);
          const before = Number(await page.locator('[data-stat="pending"]').textContent());
          await postJson(`${base}/api/v1/readings`, { sensor: "temp", value: 22.4, unit: "C" });
          await waitForText(page.locator('[data-stat="pending"]'), String(before + 1), 15_000);
          assert.ok(await stillSamePage(page), "the page reloaded instead of refreshing in place");
        },
      );

      await t.step("the readings page charts buckets with a min/max band", async () => {
        const response = await page.goto(`${base}/readings?range=6h&bucket=5m`);
        assert.equal(response?.status(), 200);
        const series = await page.locator("svg path[data-series]").evaluateAll((paths) =>
          paths.map((path) => path.getAttribute("data-series"))
        );
        assert.deepEqual(series.sort(), SENSORS.map((s) => s.sensor));
        assert.equal(await page.locator("svg path[data-band]").count(), SENSORS.length);
        assert.ok((await page.locator("#buckets tbody tr").count()) > 10);
        await page.screenshot({ path: await screenshotPath("agent-readings-desktop") });
      });

      await t.step(
        "the event form island checks inline and adds an event without a reload",
        async () => {
          await page.goto(`${base}/events`);
          await page.locator('outpost-island[data-island="EventsPanel"][data-hydrated]').waitFor();
          await markPage(page);
          await page.getByRole("button", { name: "Add event" }).click();
          await page.locator("#field-kind-error").waitFor();
          assert.match(
            (await page.locator("#field-kind-error").textContent()) ?? "",
            /Kind is required/,
          );
          assert.equal(await page.locator("#field-kind").getAttribute("aria-invalid"), "true");
          await page.getByLabel("Kind").fill("not valid!");
          await page.getByLabel("Message").fill("Door 3 opened during the night shift (with JS)");
          await page.getByRole("button", { name: "Add event" }).click();
          assert.match(
            (await page.locator("#field-kind-error").textContent()) ?? "",
            /Kind must be 1-64 letters/,
          );
          await page.screenshot({ path: await screenshotPath("agent-events-error-desktop") });
          await page.getByLabel("Kind").fill("door.open");
          await page.getByLabel("Severity").selectOption("warning");
          await page.screenshot({ path: await screenshotPath("agent-events-form-desktop") });
          await page.getByRole("button", { name: "Add event" }).click();
          await page.locator("#events-table tbody tr", { hasText: "(with JS)" }).waitFor();
          assert.match((await page.locator(".form-status").textContent()) ?? "", /Event added/);
          assert.equal(await page.locator("#field-kind").inputValue(), "");
          assert.ok(await stillSamePage(page), "the island reloaded the page");
          const stored = await apiEvents(base);
          assert.ok(stored.some((e) => e.kind === "door.open" && e.message.endsWith("(with JS)")));
          await page.screenshot({ path: await screenshotPath("agent-events-desktop") });
        },
      );

      await t.step(
        "the event form works as a plain HTML form with JavaScript disabled",
        async () => {
          const noJs = await localContext(browser!, {
            viewport: DESKTOP,
            javaScriptEnabled: false,
          });
          try {
            const plain = await noJs.context.newPage();
            await plain.goto(`${base}/events`);
            await plain.getByLabel("Kind").fill("bad kind!");
            await plain.getByLabel("Message").fill("Posted without JavaScript");
            const [invalid] = await Promise.all([
              plain.waitForResponse((r) => r.request().method() === "POST"),
              plain.getByRole("button", { name: "Add event" }).click(),
            ]);
            assert.equal(invalid.status(), 422);
            await plain.waitForLoadState();
            assert.match(
              (await plain.locator("#field-kind-error").textContent()) ?? "",
              /Kind must be 1-64 letters/,
            );
            assert.equal(
              await plain.locator("#field-message").inputValue(),
              "Posted without JavaScript",
            );
            assert.ok(!(await apiEvents(base)).some((e) => e.kind === "bad kind!"));
            await plain.getByLabel("Kind").fill("valve.closed");
            await plain.getByLabel("Severity").selectOption("critical");
            const [created] = await Promise.all([
              plain.waitForResponse((r) => r.request().method() === "POST"),
              plain.getByRole("button", { name: "Add event" }).click(),
            ]);
            assert.equal(created.status(), 303);
            await plain.waitForURL(/\/events\?added=/);
            await plain.locator("#events-table tbody tr", { hasText: "Posted without JavaScript" })
              .waitFor();
            assert.match((await plain.locator(".notice").textContent()) ?? "", /Event added/);
            assert.ok(
              (await apiEvents(base)).some((e) =>
                e.kind === "valve.closed" && e.message === "Posted without JavaScript"
              ),
            );
            await plain.goto(`${base}/`);
            assert.equal(await plain.locator("svg path[data-series]").count(), SENSORS.length);
            assert.equal(
              await plain.locator(".live-indicator").getAttribute("data-live-state"),
              "snapshot",
            );
            // Pinning sensors is a GET form; the choice is kept in a cookie.
            await plain.locator("#choose-sensors summary").click();
            await plain.getByRole("checkbox", { name: /^hum/ }).uncheck();
            await plain.getByRole("checkbox", { name: /^pressure/ }).uncheck();
            await plain.getByRole("button", { name: "Show these" }).click();
            await plain.waitForURL(/\?choose=1&pin=temp#charts$/);
            const shown = () =>
              plain.locator("svg path[data-series]").evaluateAll((paths) =>
                paths.map((path) => path.getAttribute("data-series"))
              );
            assert.deepEqual(await shown(), ["temp"]);
            await plain.locator("header nav a", { hasText: "Readings" }).click();
            await plain.locator("header nav a", { hasText: "Dashboard" }).click();
            assert.deepEqual(await shown(), ["temp"], "the pinned choice survives a visit");
            assert.match(
              (await plain.locator("[data-sensor-count]").textContent()) ?? "",
              /Showing the sensor you pinned \(1 of 3 sensors\)/,
            );
            await plain.locator("#choose-sensors summary").click();
            await plain.getByRole("link", { name: "Show the most recently active" }).click();
            assert.equal((await shown()).length, SENSORS.length);
            assert.deepEqual(noJs.blocked, []);
          } finally {
            await noJs.context.close();
          }
        },
      );

      await t.step("the pages fit a phone screen with 44px tap targets", async () => {
        const phone = await localContext(browser!, {
          viewport: PHONE,
          isMobile: true,
          hasTouch: true,
        });
        try {
          const small = await phone.context.newPage();
          for (const path of ["/", "/readings?range=6h&bucket=15m", "/events", "/settings"]) {
            await small.goto(`${base}${path}`);
            await assertPhoneLayout(small, path);
          }
          await small.goto(`${base}/`);
          await small.locator('.live-indicator[data-live-state="live"]').waitFor();
          await small.locator("#choose-sensors summary").click();
          await assertPhoneLayout(small, "/ with the sensor chooser open");
          await small.locator("#choose-sensors summary").click();
          await small.screenshot({ path: await screenshotPath("agent-dashboard-phone") });
          await small.screenshot({
            path: await screenshotPath("agent-dashboard-phone-full"),
            fullPage: true,
          });
          await small.goto(`${base}/readings?range=6h&bucket=15m`);
          await small.locator("#readings-table").scrollIntoViewIfNeeded();
          await small.screenshot({ path: await screenshotPath("agent-readings-phone") });
          await small.goto(`${base}/events`);
          await small.locator('outpost-island[data-island="EventsPanel"][data-hydrated]').waitFor();
          await small.locator("#events-table").scrollIntoViewIfNeeded();
          // Message, the last column, is on screen: each row is a card.
          const message = await small.locator("#events-table td[data-label=Message]").first()
            .boundingBox();
          assert.ok(message && message.x + message.width <= PHONE.width);
          await small.screenshot({ path: await screenshotPath("agent-events-phone") });
          assert.deepEqual(phone.blocked, []);
        } finally {
          await phone.context.close();
        }
      });

      await t.step(
        "charts of the largest values the API takes, flat lines and old readings stay drawable",
        async () => {
          // The API bounds values to ±(2^53 − 1) and times to a window around the clock (the
          // chart's own tests cover ±1.797e308 and year 9999, which older data may hold).
          const max = Number.MAX_SAFE_INTEGER;
          const now = Date.now();
          const extreme = [
            { sensor: "extreme", value: -max, ts: new Date(now - 120_000).toISOString() },
            { sensor: "extreme", value: max, ts: new Date(now - 60_000).toISOString() },
            { sensor: "extreme", value: 0, ts: new Date(now - 30_000).toISOString() },
            { sensor: "flat", value: max, ts: new Date(now - 60_000).toISOString() },
            { sensor: "flat", value: max, ts: new Date(now - 30_000).toISOString() },
            { sensor: "stale", value: 1, ts: new Date(now - 3 * 86_400_000).toISOString() },
          ];
          assert.equal((await postJson(`${base}/api/v1/readings`, extreme)).status, 201);
          const response = await page.goto(
            `${base}/?choose=1&pin=extreme&pin=flat&pin=stale&pin=temp`,
          );
          assert.equal(response?.status(), 200);
          await page.locator('outpost-island[data-island="LiveDashboard"][data-hydrated]')
            .waitFor();
          assert.deepEqual(await brokenSvgAttributes(page), []);
          assert.match(
            (await page.locator("#chart-2-stale .chart-latest").textContent()) ?? "",
            /latest 1 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
          );
          assert.match(
            (await page.locator("#chart-0-extreme .axis-y").textContent()) ?? "",
            /e\+1[56]/,
          );
          await page.screenshot({ path: await screenshotPath("agent-charts-extreme-desktop") });
          const readings = await page.goto(`${base}/readings?range=1h&sensor=flat`);
          assert.equal(readings?.status(), 200);
          assert.deepEqual(await brokenSvgAttributes(page), []);
          assert.equal(
            await page.locator("#buckets td[data-label=Avg]").first().textContent(),
            "9.01e+15",
          );
          await page.goto(`${base}/?choose=1`); // back to the most recently active
        },
      );

      await t.step("a browser gets an HTML page for a page that does not exist", async () => {
        const missing = await page.goto(`${base}/no/such/page`);
        assert.equal(missing?.status(), 404);
        assert.equal(await page.locator("h1").textContent(), "Page not found");
        await page.getByRole("link", { name: "Go to the dashboard" }).click();
        await page.waitForURL(`${base}/`);
        const api = await fetch(`${base}/no/such/page`);
        assert.equal(api.status, 404);
        assert.equal((await api.json()).error.code, "not_found");
      });

      await t.step(
        "a cloud that cannot be reached is said in words, the raw error in details",
        async () => {
          const nowhere = `http://127.0.0.1:${freePort()}`;
          offline = await startAgent({
            OUTPOST_CLOUD_URL: nowhere,
            OUTPOST_ENROLL_TOKEN: "e2e-enroll-token-0123456789",
          });
          // A few attempts in, so that "since" and the next attempt are seconds apart.
          const until = Date.now() + 30_000;
          const backingOff = (sync: { since: string | null; nextAttemptAt: string | null }) =>
            sync.since !== null && sync.nextAttemptAt !== null &&
            Date.parse(sync.nextAttemptAt) - Date.parse(sync.since) > 3000;
          while (!backingOff(await (await fetch(`${offline.base}/api/v1/sync`)).json())) {
            assert.ok(Date.now() < until, "the agent never reported a problem and a retry");
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          await seed(offline.base);
          await page.goto(`${offline.base}/`);
          const headline = (await page.locator(".sync-state").textContent()) ?? "";
          assert.match(
            headline,
            /Cloud unreachable since \d\d:\d\d:\d\d UTC; retrying( at \d\d:\d\d:\d\d UTC)?\./,
          );
          assert.doesNotMatch(headline, /Cannot reach|ECONNREFUSED|refused/i);
          assert.equal(await page.locator('[data-stat="lastError"]').isVisible(), false);
          await page.locator(".tech-details summary").click();
          assert.match(
            (await page.locator('[data-stat="lastError"]').textContent()) ?? "",
            /Cannot reach/,
          );
          await page.screenshot({ path: await screenshotPath("agent-dashboard-offline-desktop") });
        },
      );

      await t.step("settings show the device and enrollment without secrets", async () => {
        await page.goto(`${base}/settings`);
        assert.equal(await page.locator('[data-fact="deviceId"]').textContent(), "edge-pi-07");
        assert.match(
          (await page.locator('[data-fact="enrolled"]').textContent()) ?? "",
          /Not enrolled/,
        );
        await page.screenshot({ path: await screenshotPath("agent-settings-desktop") });
      });

      await t.step(
        "with an API token, adding events needs a login and the island uses the session",
        async () => {
          const token = "e2e-token-0123456789abcdef";
          secured = await startAgent({ OUTPOST_API_TOKEN: token });
          const auth = await localContext(browser!, { viewport: DESKTOP });
          try {
            const tab = await auth.context.newPage();
            await tab.goto(`${secured.base}/events`);
            assert.match(
              (await tab.locator(".notice").textContent()) ?? "",
              /needs the agent's API token/,
            );
            await tab.getByRole("link", { name: "Log in" }).first().click();
            await tab.getByLabel("API token").fill("wrong-token-value");
            await tab.getByRole("button", { name: "Log in" }).click();
            assert.match(
              (await tab.locator("#field-token-error").textContent()) ?? "",
              /not this agent's API token/,
            );
            await tab.getByLabel("API token").fill(token);
            await tab.getByRole("button", { name: "Log in" }).click();
            await tab.waitForURL(`${secured.base}/events`);
            const cookies = await auth.context.cookies();
            const session = cookies.find((cookie) => cookie.name === "outpost_session");
            assert.ok(session?.httpOnly && session.sameSite === "Strict");
            assert.ok(!session.value.includes(token));
            await tab.locator('outpost-island[data-island="EventsPanel"][data-hydrated]').waitFor();
            await tab.getByLabel("Kind").fill("maintenance");
            await tab.getByLabel("Message").fill("Filter replaced (logged in)");
            await tab.getByRole("button", { name: "Add event" }).click();
            await tab.locator("#events-table tbody tr", { hasText: "(logged in)" }).waitFor();
            assert.ok((await apiEvents(secured.base)).some((e) => e.kind === "maintenance"));
            await tab.getByRole("button", { name: "Log out" }).click();
            await tab.waitForURL(`${secured.base}/`);
            assert.ok(
              !(await auth.context.cookies()).some((c) => c.name === "outpost_session" && c.value),
            );
            assert.deepEqual(auth.blocked, []);
          } finally {
            await auth.context.close();
          }
        },
      );

      assert.deepEqual(desktop.blocked, [], "a page tried to reach beyond 127.0.0.1");
      assert.deepEqual(consoleErrors, [], `the browser console reported errors: ${consoleErrors}`);
    } finally {
      await browser?.close();
      await stopAgent(agent);
      await stopAgent(secured);
      await stopAgent(offline);
    }
  },
});
