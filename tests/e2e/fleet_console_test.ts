/**
 * The fleet console in a real browser against a real cloud (`deno task cloud`) and a real
 * agent enrolled to it: log in through the form, the device is listed online and goes offline
 * when its agent stops (seen by the live table, without a reload), the list is filtered on the
 * server by selector, id prefix and state, the device page charts one series per sensor, the
 * desired state editor bumps the version, a ping queued from the page succeeds once the agent
 * is back, and a rollout and a job created from their forms (with the selector's live preview)
 * are followed to success by their live islands. Also without JavaScript and on a phone. No
 * request leaves 127.0.0.1. Screenshots land in test-output/screenshots/.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { postJson } from "../support/process.ts";
import {
  type AgentHandle,
  type CloudHandle,
  eventually,
  startAgentProcess,
  startCloud,
  TEST_ADMIN_TOKEN,
  TEST_ENROLL_TOKEN,
} from "../support/stack.ts";
import {
  assertPhoneLayout,
  brokenSvgAttributes,
  buildWebAssets,
  collectConsoleErrors,
  launchChromium,
  type LocalContext,
  localContext,
  markPage,
  screenshotPath,
  stillSamePage,
  waitForText,
} from "./browser.ts";

const DEVICE = "edge-pi-07";
const SENSORS = [
  { sensor: "hum", unit: "%", base: 45, swing: 8 },
  { sensor: "temp", unit: "C", base: 21, swing: 2.5 },
];
const READINGS_PER_SENSOR = 40;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
/** Browser console errors a test provokes on purpose (a refused login, a rejected form). */
const EXPECTED_ERRORS = /Failed to load resource: the server responded with a status of (401|422)/;

interface DeviceState {
  online: boolean;
  desiredVersion: number;
  appliedVersion: number;
  stats: { readings: number; events: number };
}

async function device(cloud: CloudHandle, id: string): Promise<DeviceState> {
  const { status, body } = await cloud.admin<DeviceState>(`/api/v1/devices/${id}`);
  assert.equal(status, 200);
  return body;
}

/** Readings of two sensors and one event, written to the agent's local API. */
async function seedAgent(agent: AgentHandle): Promise<void> {
  const now = Date.now();
  const readings = SENSORS.flatMap(({ sensor, unit, base, swing }, s) =>
    Array.from({ length: READINGS_PER_SENSOR }, (_, i) => ({
      sensor,
      unit,
      value: Math.round((base + swing * Math.sin(i / 5 + s)) * 100) / 100,
      ts: new Date(now - (READINGS_PER_SENSOR - i) * 60_000).toISOString(),
    }))
  );
  assert.equal((await postJson(`${agent.url}/api/v1/readings`, readings)).status, 201);
  const event = { kind: "pump:fault", severity: "warning", message: "Pump 2 stalled; restarted" };
  assert.equal((await postJson(`${agent.url}/api/v1/events`, event)).status, 201);
}

/** Logs in through the form, starting from `path` (which redirects to the login). */
async function logIn(page: Page, base: string, path = "/"): Promise<void> {
  await page.goto(`${base}${path}`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel("Admin token").fill(TEST_ADMIN_TOKEN);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${base}${path}`);
}

async function seriesNames(page: Page): Promise<string[]> {
  const names = await page.locator("svg path[data-series]").evaluateAll((paths) =>
    paths.map((path) => path.getAttribute("data-series") ?? "")
  );
  return names.sort();
}

async function deviceRows(page: Page): Promise<string[]> {
  return await page.locator("#devices-table tbody a.device-link").allTextContents();
}

Deno.test({
  name: "the fleet console works in Chromium against a real cloud and agent, offline",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await buildWebAssets();
    let cloud: CloudHandle | undefined;
    let agent: AgentHandle | undefined;
    let browser: Browser | undefined;
    const contexts: LocalContext[] = [];
    try {
      cloud = await startCloud();
      const base = cloud.url;
      agent = await startAgentProcess({
        deviceId: DEVICE,
        cloudUrl: base,
        env: { OUTPOST_LABELS: "site=north,role=pump" },
      });
      // A second device that enrolled once and never connected: offline, with labels.
      const enrolled = await postJson(`${base}/api/v1/enroll`, {
        deviceId: "jetson-02",
        token: TEST_ENROLL_TOKEN,
        labels: { site: "south", role: "camera" },
        arch: "aarch64",
        version: "0.9.1",
      });
      assert.equal(enrolled.status, 200);
      await seedAgent(agent);
      const expected = SENSORS.length * READINGS_PER_SENSOR;
      await eventually(async () => {
        const state = await device(cloud!, DEVICE);
        return state.online && state.stats.readings === expected && state.stats.events === 1;
      }, "the agent online with its readings and event in the cloud");

      browser = await launchChromium();
      const desktop = await localContext(browser, { viewport: DESKTOP });
      contexts.push(desktop);
      const page = await desktop.context.newPage();
      const consoleErrors = collectConsoleErrors(page, EXPECTED_ERRORS);

      await t.step("the console asks for the admin token and refuses a wrong one", async () => {
        const response = await page.goto(`${base}/`);
        assert.equal(response?.status(), 200);
        assert.equal(page.url(), `${base}/login?next=%2F`);
        await page.getByLabel("Admin token").fill("not-the-admin-token-000000");
        await page.getByRole("button", { name: "Log in" }).click();
        await page.locator("#field-token-error").waitFor();
        assert.match(
          (await page.locator("#field-token-error").textContent()) ?? "",
          /not the cloud's admin token/,
        );
        await page.screenshot({ path: await screenshotPath("fleet-login-error-desktop") });
        await page.getByLabel("Admin token").fill(TEST_ADMIN_TOKEN);
        await page.getByRole("button", { name: "Log in" }).click();
        await page.waitForURL(`${base}/`);
        const session = (await desktop.context.cookies()).find((c) =>
          c.name === "outpost_fleet_session"
        );
        assert.ok(session?.httpOnly && session.sameSite === "Strict", "cookie flags");
        assert.ok(!session.value.includes(TEST_ADMIN_TOKEN), "the cookie holds the token");
      });

      await t.step("the device table lists the enrolled agent as online", async () => {
        assert.equal(await page.locator("h1").textContent(), "Devices");
        assert.deepEqual(await deviceRows(page), [DEVICE, "jetson-02"]);
        assert.equal(await page.locator(`[data-presence="${DEVICE}"]`).textContent(), "Online");
        assert.equal(await page.locator('[data-presence="jetson-02"]').textContent(), "Offline");
        assert.match(
          (await page.locator("#devices-table tbody tr", { hasText: "jetson-02" }).textContent()) ??
            "",
          /0\.9\.1.*aarch64.*site=south.*role=camera/,
        );
        await page.locator('outpost-island[data-island="FleetTable"][data-hydrated]').waitFor();
        await page.locator('.live-indicator[data-live-state="live"]').waitFor();
        await page.screenshot({ path: await screenshotPath("fleet-devices-desktop") });
      });

      await t.step("the server filters the list by selector, id prefix and state", async () => {
        await page.getByLabel("Label selector").fill("site=south");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.waitForURL(/\?selector=site%3Dsouth/);
        assert.deepEqual(await deviceRows(page), ["jetson-02"]);
        await page.getByLabel("Label selector").fill("");
        await page.getByLabel("Device id starts with").fill("edge-");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.waitForURL(/[?&]q=edge-/);
        assert.deepEqual(await deviceRows(page), [DEVICE]);
        await page.getByRole("link", { name: "Clear" }).click();
        await page.waitForURL(`${base}/`);
        // The state tabs carry the counts of the whole fleet.
        assert.equal(await page.locator('[data-state-count="all"] .count').textContent(), "2");
        await page.locator('[data-state-count="offline"]').click();
        await page.waitForURL(/\?state=offline/);
        assert.deepEqual(await deviceRows(page), ["jetson-02"]);
        await page.getByLabel("Label selector").fill("site in (south");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.locator("#field-selector-error").waitFor();
        assert.match(
          (await page.locator("#field-selector-error").textContent()) ?? "",
          /expected ',' or '\)' at position 14/,
        );
        await page.goto(`${base}/`);
        assert.deepEqual(await deviceRows(page), [DEVICE, "jetson-02"]);
      });

      await t.step("stopping the agent shows it offline through live refresh", async () => {
        await page.locator('.live-indicator[data-live-state="live"]').waitFor();
        await markPage(page);
        await agent!.process.stop();
        await waitForText(page.locator(`[data-presence="${DEVICE}"]`), "Offline", 30_000);
        assert.ok(await stillSamePage(page), "the table reloaded instead of refreshing in place");
        assert.equal((await device(cloud!, DEVICE)).online, false);
      });

      await t.step("the device page charts one series per sensor and lists events", async () => {
        await page.getByRole("link", { name: DEVICE }).click();
        await page.waitForURL(`${base}/devices/${DEVICE}`);
        assert.equal(await page.locator("h1").textContent(), DEVICE);
        assert.deepEqual(await seriesNames(page), SENSORS.map((s) => s.sensor));
        assert.equal(await page.locator('svg[role="img"] > title').count(), SENSORS.length);
        assert.deepEqual(await brokenSvgAttributes(page), []);
        assert.equal(
          await page.locator("[data-sensor-count]").textContent(),
          `Showing all ${SENSORS.length} sensors.`,
        );
        await page.locator("#device-events-table tbody tr", { hasText: "Pump 2 stalled" })
          .waitFor();
        // Sections to jump to.
        await page.locator(".jump-links").getByRole("link", { name: "Commands" }).click();
        await page.waitForURL(/#commands$/);
      });

      await t.step(
        "the desired state editor rejects a non-object and bumps the version",
        async () => {
          assert.equal(await page.locator('[data-fact="desiredVersion"]').textContent(), "0");
          await page.getByRole("textbox", { name: "Desired state" }).fill('["not", "an object"]');
          const [rejected] = await Promise.all([
            page.waitForResponse((r) => r.request().method() === "POST"),
            page.getByRole("button", { name: "Save desired state" }).click(),
          ]);
          assert.equal(rejected.status(), 422);
          await page.waitForLoadState();
          assert.match(
            (await page.locator("#field-desired-error").textContent()) ?? "",
            /must be a JSON object/,
          );
          assert.equal(await page.locator("#field-desired").getAttribute("aria-invalid"), "true");
          await page.locator("#field-desired").scrollIntoViewIfNeeded();
          await page.screenshot({ path: await screenshotPath("fleet-desired-error-desktop") });
          await page.getByRole("textbox", { name: "Desired state" }).fill(
            '{"logLevel": "debug", "sampleSeconds": 5}',
          );
          await page.getByRole("button", { name: "Save desired state" }).click();
          await page.waitForURL(/\?saved=1#desired$/);
          assert.equal(await page.locator('[data-fact="desiredVersion"]').textContent(), "1");
          assert.match((await page.locator(".notice").textContent()) ?? "", /version 1/);
          assert.equal((await device(cloud!, DEVICE)).desiredVersion, 1);
        },
      );

      await t.step("a ping from the page succeeds once the agent is back", async () => {
        await agent!.restart();
        await eventually(
          async () => (await device(cloud!, DEVICE)).online,
          "the agent back online",
        );
        await page.goto(`${base}/devices/${DEVICE}`);
        await page.getByRole("button", { name: "Ping" }).click();
        await page.waitForURL(/\?command=[0-9a-f-]{36}#commands$/);
        const id = new URL(page.url()).searchParams.get("command")!;
        await page.locator('outpost-island[data-island="CommandList"][data-hydrated]').waitFor();
        await waitForText(page.locator(`[data-command-status="${id}"]`), "succeeded", 30_000);
        assert.match(
          (await page.locator("#commands-table tbody tr", { hasText: "succeeded" }).first()
            .textContent()) ?? "",
          /pong/,
        );
        // The desired state saved while the agent was down reached it when it reconnected.
        await eventually(
          async () => (await device(cloud!, DEVICE)).appliedVersion === 1,
          "the agent applying desired version 1",
        );
        await page.reload();
        assert.match(
          (await page.locator('[data-fact="appliedVersion"]').textContent()) ?? "",
          /1 \(up to date\)/,
        );
        await page.screenshot({
          path: await screenshotPath("fleet-device-desktop"),
          fullPage: true,
        });
      });

      await t.step(
        "a rollout started from its form reaches the agent and succeeds, seen live",
        async () => {
          await page.goto(`${base}/rollouts`);
          await page.getByRole("link", { name: "New rollout" }).click();
          await page.waitForURL(`${base}/rollouts/new`);
          await page.locator('outpost-island[data-island="SelectorPreview"][data-hydrated]')
            .waitFor();
          await page.getByLabel("Name").fill("Keep two weeks on the pumps");
          await page.getByLabel("Label selector").fill("role=pump");
          await waitForText(
            page.locator("[data-preview]"),
            "1 device matches now (1 online).",
            10_000,
          );
          await page.getByLabel("Desired state patch").fill('{"retentionDays": 14}');
          await page.getByLabel("Waves").fill("100");
          await page.screenshot({ path: await screenshotPath("fleet-rollout-new-desktop") });
          await page.getByRole("button", { name: "Start rollout" }).click();
          await page.waitForURL(/\/rollouts\/[\w-]+\?done=created$/);
          await page.locator('outpost-island[data-island="RolloutProgress"][data-hydrated]')
            .waitFor();
          await waitForText(page.locator("[data-rollout-state]"), "succeeded", 60_000);
          await waitForText(page.locator('[data-count="applied"] dd'), "1", 10_000);
          await page.screenshot({
            path: await screenshotPath("fleet-rollout-desktop"),
            fullPage: true,
          });
          const state = await cloud!.admin<
            { desired: Record<string, unknown>; desiredVersion: number }
          >(
            `/api/v1/devices/${DEVICE}`,
          );
          assert.deepEqual(state.body.desired, {
            logLevel: "debug",
            sampleSeconds: 5,
            retentionDays: 14,
          });
          assert.equal(state.body.desiredVersion, 2);
          await page.goto(`${base}/rollouts`);
          await page.locator("#rollouts-table tbody tr", { hasText: "Keep two weeks" }).waitFor();
        },
      );

      await t.step("a job started from its form is answered by the agent, seen live", async () => {
        await page.goto(`${base}/jobs/new`);
        await page.locator('outpost-island[data-island="SelectorPreview"][data-hydrated]')
          .waitFor();
        await page.getByLabel("Label selector").fill("role=pump");
        await waitForText(
          page.locator("[data-preview]"),
          "1 device matches now (1 online).",
          10_000,
        );
        await page.getByLabel("Command", { exact: true }).selectOption("ping");
        await page.getByRole("button", { name: "Start job" }).click();
        await page.waitForURL(/\/jobs\/[\w-]+\?done=created$/);
        await page.locator('outpost-island[data-island="JobProgress"][data-hydrated]').waitFor();
        await waitForText(page.locator("[data-job-state]"), "succeeded", 60_000);
        assert.equal(await page.locator('[data-count="succeeded"] dd').textContent(), "1");
        await page.screenshot({ path: await screenshotPath("fleet-job-desktop") });
      });

      await t.step("every page and form works with JavaScript disabled", async () => {
        const noJs = await localContext(browser!, { viewport: DESKTOP, javaScriptEnabled: false });
        contexts.push(noJs);
        const plain = await noJs.context.newPage();
        await logIn(plain, base, "/?state=offline");
        assert.deepEqual(await deviceRows(plain), ["jetson-02"]);
        assert.equal(
          await plain.locator(".live-indicator").getAttribute("data-live-state"),
          "snapshot",
        );
        await plain.goto(`${base}/devices/${DEVICE}`);
        assert.deepEqual(await seriesNames(plain), SENSORS.map((s) => s.sensor));
        await plain.getByLabel("Log level").selectOption("debug");
        const [queued] = await Promise.all([
          plain.waitForResponse((r) => r.request().method() === "POST"),
          plain.getByRole("button", { name: "Set log level" }).click(),
        ]);
        assert.equal(queued.status(), 303);
        await plain.waitForURL(/\?command=/);
        await plain.locator("#commands-table tbody tr", { hasText: "set-log-level" }).waitFor();
        await plain.getByRole("textbox", { name: "Desired state" }).fill('{"logLevel": "info"}');
        await plain.getByRole("button", { name: "Save desired state" }).click();
        await plain.waitForURL(/\?saved=3#desired$/);
        // Rollouts and jobs read, preview and start without JavaScript.
        await plain.goto(`${base}/rollouts`);
        await plain.getByRole("link", { name: "Keep two weeks on the pumps" }).click();
        assert.equal(await plain.locator("[data-rollout-state]").textContent(), "succeeded");
        await plain.goto(`${base}/jobs/new`);
        await plain.getByLabel("Label selector").fill("site=south");
        await plain.getByRole("button", { name: "Preview" }).click();
        await plain.locator("[data-preview]", { hasText: "1 device matches now (0 online)." })
          .waitFor();
        await plain.getByRole("button", { name: "Start job" }).click();
        await plain.waitForURL(/\/jobs\/[\w-]+\?done=created$/);
        assert.match(
          (await plain.locator('[data-count="queued"] dd').textContent()) ?? "",
          /^[01]$/,
          "jetson-02 is offline: its command waits",
        );
        await plain.getByRole("button", { name: "Cancel job" }).click();
        await plain.waitForURL(/\?done=cancel$/);
        assert.equal(await plain.locator("[data-job-state]").textContent(), "cancelled");
        await plain.getByRole("button", { name: "Log out" }).click();
        await plain.waitForURL(`${base}/login`);
        await plain.goto(`${base}/`);
        await plain.waitForURL(/\/login\?next=/);
      });

      await t.step("the pages fit a phone screen with 44px tap targets", async () => {
        const phone = await localContext(browser!, {
          viewport: PHONE,
          isMobile: true,
          hasTouch: true,
        });
        contexts.push(phone);
        const small = await phone.context.newPage();
        await logIn(small, base);
        for (
          const path of [
            "/",
            `/devices/${DEVICE}`,
            "/devices/no-such-device",
            "/rollouts",
            "/rollouts/new",
            "/jobs",
            "/jobs/new",
          ]
        ) {
          await small.goto(`${base}${path}`);
          await assertPhoneLayout(small, path);
        }
        await small.goto(`${base}/devices/no-such-device`);
        assert.equal(await small.locator("h1").textContent(), "Device not found");
        await small.goto(`${base}/`);
        await small.locator('.live-indicator[data-live-state="live"]').waitFor();
        await small.screenshot({ path: await screenshotPath("fleet-devices-phone") });
        await small.goto(`${base}/devices/${DEVICE}`);
        await small.locator('outpost-island[data-island="CommandList"][data-hydrated]').waitFor();
        await small.screenshot({ path: await screenshotPath("fleet-device-phone") });
        // A refused save comes back scrolled to the form, its error on screen.
        await small.locator(".jump-links").getByRole("link", { name: "Desired state" }).click();
        await small.getByRole("textbox", { name: "Desired state" }).fill("[1, 2]");
        const [rejected] = await Promise.all([
          small.waitForResponse((r) => r.request().method() === "POST"),
          small.getByRole("button", { name: "Save desired state" }).click(),
        ]);
        assert.equal(rejected.status(), 422);
        await small.waitForURL(/\/desired#desired$/);
        await small.locator("#field-desired-error").waitFor();
        const error = await small.locator("#desired .error-summary").boundingBox();
        assert.ok(
          error && error.y >= 0 && error.y + error.height <= PHONE.height,
          `the error is off screen at ${JSON.stringify(error)}`,
        );
        await small.screenshot({ path: await screenshotPath("fleet-desired-error-phone") });
      });

      for (const context of contexts) {
        assert.deepEqual(context.blocked, [], "a page tried to reach beyond 127.0.0.1");
      }
      assert.deepEqual(consoleErrors, [], "the browser console reported errors");
    } finally {
      for (const context of contexts) await context.context.close().catch(() => {});
      await browser?.close();
      await agent?.process.stop();
      await cloud?.process.stop();
      for (const dir of [agent?.dataDir, cloud?.dataDir]) {
        if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }
  },
});
