import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentAppOptions, createAgentApp } from "../http/app.ts";
import { createLogger } from "@outpost/platform/log";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { openAgentStore } from "../store/open.ts";
import type { AgentStore } from "../store/store.ts";
import { loadAssets } from "@outpost/web/assets";
import { createSessionAuth, CSRF_HEADER } from "@outpost/web/session";
import { html, islandProps } from "@outpost/web/testing/html";
import { type AgentUiOptions, createAgentErrorPage, createAgentUi } from "./mod.ts";

const TOKEN = "ui-test-token-0123456789";
const NOW = Date.now();

interface Harness {
  store: AgentStore;
  request: (path: string, init?: RequestInit) => Promise<Response>;
  form: (path: string, fields: Record<string, string>, init?: RequestInit) => Promise<Response>;
}

interface HarnessOptions {
  token?: string;
  ui?: Partial<AgentUiOptions>;
  app?: Partial<AgentAppOptions>;
  buildDir?: string;
}

async function withUi(fn: (h: Harness) => Promise<void>, options: HarnessOptions = {}) {
  const dir = await Deno.makeTempDir({ prefix: "outpost-ui-" });
  const { store, handle } = await openAgentStore(dir);
  const session = options.token ? createSessionAuth({ secret: options.token }) : undefined;
  const ui = createAgentUi({
    store,
    deviceId: "dev-ui",
    version: "1.2.3-test",
    assets: await loadAssets({ buildDir: options.buildDir ?? join(dir, "no-build") }),
    session,
    ...options.ui,
  });
  const errorPage = createAgentErrorPage({
    deviceId: "dev-ui",
    assets: await loadAssets({ buildDir: options.buildDir ?? join(dir, "no-build") }),
    session,
  });
  const app = createAgentApp({
    store,
    errorPage,
    logger: createLogger({ write: () => {} }),
    metrics: new MetricsRegistry(),
    version: "1.2.3-test",
    deviceId: "dev-ui",
    apiToken: options.token,
    ui,
    sessionAuth: session?.authorizesApiRequest,
    ...options.app,
  });
  const request = async (path: string, init?: RequestInit) =>
    await app.request(`http://agent${path}`, init);
  const form = (path: string, fields: Record<string, string>, init: RequestInit = {}) =>
    request(path, {
      method: "POST",
      ...init,
      headers: { "content-type": "application/x-www-form-urlencoded", ...init.headers },
      body: new URLSearchParams(fields).toString(),
    });
  try {
    await fn({ store, request, form });
  } finally {
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function seed(store: AgentStore) {
  const readings = ["hum", "pressure", "temp"].flatMap((sensor, s) =>
    Array.from({ length: 30 }, (_, i) => ({
      sensor,
      value: 10 * (s + 1) + Math.sin(i),
      unit: ["%", "hPa", "C"][s],
      ts: NOW - (30 - i) * 60_000,
    }))
  );
  await store.insertReadings(readings);
  await store.insertEvent({ kind: "boot", severity: "info", message: "Started <b>fine</b>" });
}

function sessionCookie(response: Response): string {
  const setCookie = response.headers.get("set-cookie") ?? "";
  assert.match(setCookie, /^outpost_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
  return setCookie.split(";")[0];
}

Deno.test("every console page renders with the layout, navigation and a strict CSP", async () => {
  await withUi(async ({ request, store }) => {
    await seed(store);
    for (
      const [path, title] of [
        ["/", "Dashboard"],
        ["/readings", "Readings"],
        ["/events", "Events"],
        ["/settings", "Settings"],
        ["/login", "No login needed"],
      ]
    ) {
      const response = await request(path);
      const page = await html(response);
      assert.ok(page.startsWith('<!DOCTYPE html><html lang="en">'), path);
      assert.match(page, /<meta name="viewport" content="width=device-width, initial-scale=1"\/>/);
      assert.match(page, /<a class="skip-link" href="#main">Skip to content<\/a>/);
      assert.match(page, new RegExp(`<h1>${title}</h1>`));
      assert.match(page, /<main id="main" tabindex="-1">/);
      assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.equal(response.headers.get("cache-control"), "no-store");
      if (path !== "/login") {
        assert.match(page, new RegExp(`<a href="${path}" aria-current="page">`));
      }
      // No build in this test: a hashed stylesheet from source and no client script.
      assert.match(page, /<link rel="stylesheet" href="\/assets\/app\.[0-9a-f]{12}\.css"\/>/);
      assert.ok(!page.includes('<script type="module"'));
    }
  });
});

Deno.test("the stylesheet the pages link to is served with an immutable cache", async () => {
  await withUi(async ({ request }) => {
    const page = await html(await request("/"));
    const href = /<link rel="stylesheet" href="([^"]+)"/.exec(page)![1];
    const css = await request(href);
    assert.equal(css.status, 200);
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal(css.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.match(await css.text(), /outpost-island/);
    const unknown = await request("/assets/nope.123456789abc.js");
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.code, "not_found");
  });
});

Deno.test("with a build, pages load the hashed island bundle as a module", async () => {
  const buildDir = await Deno.makeTempDir({ prefix: "outpost-ui-build-" });
  try {
    await Deno.writeTextFile(join(buildDir, "agent.0123456789ab.js"), "export {};");
    await Deno.writeTextFile(join(buildDir, "app.0123456789ab.css"), "body{}");
    await Deno.writeTextFile(
      join(buildDir, "manifest.json"),
      JSON.stringify({ "agent.js": "agent.0123456789ab.js", "app.css": "app.0123456789ab.css" }),
    );
    await withUi(async ({ request }) => {
      const page = await html(await request("/events"));
      assert.match(
        page,
        /<script type="module" src="\/assets\/agent\.0123456789ab\.js"><\/script>/,
      );
      assert.match(page, /<link rel="stylesheet" href="\/assets\/app\.0123456789ab\.css"\/>/);
      const js = await request("/assets/agent.0123456789ab.js");
      assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    }, { buildDir });
  } finally {
    await Deno.remove(buildDir, { recursive: true });
  }
});

Deno.test("the dashboard shows sync state, a chart series per sensor and recent events", async () => {
  await withUi(async ({ request, store }) => {
    await seed(store);
    const page = await html(await request("/"));
    const series = [...page.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(series, ["hum", "pressure", "temp"]);
    assert.match(page, /<span class="badge sync-unenrolled">Not enrolled<\/span>/);
    assert.match(page, /<dd data-stat="pending">91<\/dd>/);
    assert.match(page, /Started &lt;b>fine&lt;\/b>/);
    assert.match(page, /data-live-state="snapshot"/);
    const props = islandProps(page, "LiveDashboard");
    assert.equal((props.sensors as unknown[]).length, 3);
    assert.equal(props.pollMs, 5000);
    assert.equal((props.sync as { state: string }).state, "unenrolled");
  });
});

Deno.test("the dashboard reads sync state from the function it is given", async () => {
  await withUi(async ({ request }) => {
    const page = await html(await request("/"));
    assert.match(page, /<span class="badge sync-offline">Offline<\/span>/);
    // Operator words up front; the raw error and the seq numbers in the details.
    assert.match(
      page,
      /data-sync-problem="broker_unreachable">Cloud unreachable since 2026-11-26 10:03:00 UTC; retrying\./,
    );
    assert.match(page, /<details class="tech-details"><summary>Sync details<\/summary>/);
    assert.match(page, /<dd data-stat="lastError"><code>broker unreachable<\/code><\/dd>/);
    assert.match(page, /<dd data-stat="ackedSeq">2<\/dd>/);
    assert.match(page, /No readings yet/);
  }, {
    ui: {
      syncStatus: () =>
        Promise.resolve({
          state: "offline",
          pending: 7,
          lastSeq: 9,
          ackedSeq: 2,
          lastAckAt: "2026-11-26T10:00:00.000Z",
          lastError: "broker unreachable",
          problem: "broker_unreachable",
          since: "2026-11-26T10:03:00.000Z",
          nextAttemptAt: null,
          brokerUrl: null,
        }),
    },
  });
});

Deno.test("the readings page charts buckets with a band and lists them in a table", async () => {
  await withUi(async ({ request, store }) => {
    await seed(store);
    const page = await html(await request("/readings?range=6h&bucket=5m"));
    assert.deepEqual(
      [...page.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]),
      ["hum", "pressure", "temp"],
    );
    assert.equal([...page.matchAll(/data-band=/g)].length, 3);
    assert.match(page, /<option value="5m" selected>5m<\/option>/);
    assert.match(page, /<th scope="col" role="columnheader" class="num">Avg<\/th>/);
    const one = await html(await request("/readings?sensor=temp&range=1h"));
    assert.deepEqual([...one.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]), ["temp"]);
    const empty = await html(await request("/readings?from=2020-01-01T00:00&to=2020-01-02T00:00"));
    assert.match(empty, /<p class="no-data">No readings in this time range\.<\/p>/);
  });
});

Deno.test("bad readings filters re-render the form with inline errors and 422", async () => {
  await withUi(async ({ request }) => {
    const page = await html(
      await request("/readings?bucket=fast&from=yesterday&range=1h"),
      422,
    );
    assert.match(page, /id="field-bucket-error"/);
    assert.match(page, /Bucket must be auto or look like 30s, 5m, 1h or 1d\./);
    assert.match(page, /aria-describedby="field-from-hint field-from-error"/);
    assert.match(page, /<div class="error-summary" role="alert"/);
    assert.ok(!page.includes("<svg viewBox"));
    const reversed = await html(
      await request("/readings?from=2026-01-02T00:00&to=2026-01-01T00:00"),
      422,
    );
    assert.match(reversed, /To must be later than From\./);
  });
});

Deno.test("the events page lists events and carries the form's rules from the API schema", async () => {
  await withUi(async ({ request, store }) => {
    await seed(store);
    const page = await html(await request("/events"));
    assert.match(page, /<form method="post" action="\/events#new-event" class="event-form">/);
    assert.match(page, /<label for="field-kind">Kind<\/label>/);
    assert.match(page, /aria-describedby="field-kind-hint"/);
    assert.match(page, /Started &lt;b>fine&lt;\/b>/);
    const props = islandProps(page, "EventsPanel");
    const rules = props.rules as Record<string, { pattern?: string; options?: string[] }>;
    assert.equal(rules.kind.pattern, "^[\\w.:/-]{1,64}$");
    assert.deepEqual(rules.severity.options, ["info", "warning", "critical"]);
    assert.equal(props.canPost, true);
    assert.equal(props.csrfToken, undefined);
  });
});

Deno.test("the events table shows when an event happened (its ts), not when it was stored", async () => {
  await withUi(async ({ request, store }) => {
    const happened = Date.UTC(2026, 10, 20, 8, 30);
    await store.insertEvent({ kind: "door", severity: "info", message: "m", ts: happened });
    const page = await html(await request("/events"));
    assert.match(page, /<time datetime="2026-11-20T08:30:00\.000Z"/);
  });
});

Deno.test("a valid form post stores the event and redirects with 303 to /events", async () => {
  await withUi(async ({ form, request, store }) => {
    const response = await form("/events", {
      kind: "door.open",
      severity: "warning",
      message: "Door 3 opened",
      data: '{"door":3}',
    }, { headers: { origin: "http://agent" } });
    assert.equal(response.status, 303);
    const location = response.headers.get("location") ?? "";
    assert.match(location, /^\/events\?added=[0-9a-f-]{36}$/);
    const [event] = await store.listEvents({ limit: 10 });
    assert.equal(event.kind, "door.open");
    assert.deepEqual(event.data, { door: 3 });
    assert.equal((await store.outboxStats()).pending, 1);
    const page = await html(await request(location));
    assert.match(page, /<p class="notice" role="status">Event added: <code>door.open<\/code>/);
  });
});

Deno.test("an invalid form post re-renders with inline errors, 422 and stores nothing", async () => {
  await withUi(async ({ form, store }) => {
    const response = await form("/events", {
      kind: "bad kind!",
      severity: "loud",
      message: "",
      data: "[1,2]",
    });
    const page = await html(response, 422);
    assert.match(page, /Kind must be 1-64 letters, digits or _ \. : \/ -\./);
    assert.match(page, /Severity must be one of: info, warning, critical\./);
    assert.match(page, /Message is required\./);
    assert.match(page, /Data must be a JSON object/);
    assert.match(page, /aria-invalid="true" aria-describedby="field-kind-hint field-kind-error"/);
    assert.match(page, /<p class="error" id="field-kind-error">/);
    assert.match(page, /<a href="#field-kind">Kind must be 1-64/);
    assert.match(page, /value="bad kind!"/, "the typed values are kept");
    assert.deepEqual(await store.listEvents({ limit: 10 }), []);
    assert.equal((await store.outboxStats()).lastSeq, 0);
  });
});

Deno.test("a form post with another content type is 415 and a cross-site one is 403", async () => {
  await withUi(async ({ request, form, store }) => {
    const json = await request("/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "a", severity: "info", message: "m" }),
    });
    assert.equal(json.status, 415);
    assert.equal((await json.json()).error.code, "unsupported_media_type");
    const crossSite = await form("/events", { kind: "a", severity: "info", message: "m" }, {
      headers: { origin: "http://evil.example" },
    });
    assert.equal(crossSite.status, 403);
    assert.equal((await crossSite.json()).error.code, "cross_site_request");
    const fetchMeta = await form("/events", { kind: "a", severity: "info", message: "m" }, {
      headers: { "sec-fetch-site": "cross-site" },
    });
    assert.equal(fetchMeta.status, 403);
    assert.deepEqual(await store.listEvents({ limit: 10 }), []);
  });
});

Deno.test("settings show device, enrollment and desired config, never a secret", async () => {
  await withUi(async ({ request }) => {
    const page = await html(await request("/settings"));
    assert.match(page, /<dd data-fact="deviceId"><code>dev-ui<\/code><\/dd>/);
    assert.match(page, /<dd data-fact="version">1\.2\.3-test<\/dd>/);
    assert.match(page, /Enrolled since 2026-11-20 08:00:00 UTC/);
    assert.match(page, /<dd data-fact="cloudUrl">https:\/\/cloud\.example\/<\/dd>/);
    assert.match(page, /<dd data-fact="brokerUrl">mqtts:\/\/broker\.example:8883<\/dd>/);
    assert.ok(!page.includes("hunter2"), "a password leaked into the page");
    assert.ok(!page.includes(TOKEN), "the API token leaked into the page");
    assert.match(page, /<dd data-fact="desiredVersion">0<\/dd>/);
    assert.match(page, /Need the API token/);
  }, {
    token: TOKEN,
    ui: {
      enrollment: () =>
        Promise.resolve({
          configuredCloudUrl: "https://cloud.example",
          enrolled: true,
          cloudUrl: "https://cloud.example",
          enrolledAt: "2026-11-20T08:00:00.000Z",
          brokerUrl: "mqtts://device:hunter2@broker.example:8883",
        }),
    },
  });
});

Deno.test("settings say when the agent is not enrolled and show the desired config", async () => {
  await withUi(async ({ request, store }) => {
    const ts = new Date().toISOString();
    await store.storeDesired({ version: 2, desired: {} }, { type: "reported", reported: {}, ts });
    await store.storeDesired(
      { version: 3, desired: { logLevel: "debug", sampleSeconds: 5 } },
      {
        type: "reported",
        reported: {},
        ts,
        version: 3,
        outcome: "failed",
        reason: "retentionDays must be a whole number",
      },
    );
    const page = await html(await request("/settings"));
    assert.match(page, /Not enrolled: no cloud configured/);
    assert.match(page, /<dd data-fact="desiredVersion">3<\/dd>/);
    assert.match(page, /<dd data-fact="appliedVersion">2<\/dd>/);
    assert.match(page, /Version 3 was not applied: retentionDays must be a whole number\./);
    assert.match(page, /&quot;logLevel&quot;: &quot;debug&quot;|"logLevel": "debug"/);
    assert.match(page, /Open: no OUTPOST_API_TOKEN is set/);
  });
});

Deno.test("with an API token, reads stay open and the form needs a login", async () => {
  await withUi(async ({ request, form, store }) => {
    for (const path of ["/", "/readings", "/events", "/settings", "/login"]) {
      assert.equal((await request(path)).status, 200, path);
    }
    const events = await html(await request("/events"));
    assert.match(events, /Adding events needs the agent's API token/);
    assert.match(events, /<a class="button" href="\/login\?next=%2Fevents">Log in<\/a>/);
    assert.equal(islandProps(events, "EventsPanel").canPost, false);
    const denied = await form("/events", { kind: "a", severity: "info", message: "m" });
    const page = await html(denied, 401);
    assert.match(page, /Log in to add events\./);
    assert.deepEqual(await store.listEvents({ limit: 10 }), []);
  }, { token: TOKEN });
});

Deno.test("logging in sets a session cookie that, with the CSRF token, allows form and API posts", async () => {
  await withUi(async ({ request, form, store }) => {
    const wrong = await form("/login", { token: "not-the-token-000000", next: "/events" });
    assert.match(
      await html(wrong, 401),
      /That is not this agent&#39;s API token\.|That is not this agent's API token\./,
    );
    assert.equal(wrong.headers.get("set-cookie"), null);

    const login = await form("/login", { token: TOKEN, next: "/events" });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get("location"), "/events");
    const cookie = sessionCookie(login);
    assert.ok(!cookie.includes(TOKEN));

    const page = await html(await request("/events", { headers: { cookie } }));
    const csrf = islandProps(page, "EventsPanel").csrfToken as string;
    assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.match(page, new RegExp(`<input type="hidden" name="_csrf" value="${csrf}"/>`));
    assert.match(page, /<form method="post" action="\/logout">/);

    const fields = { kind: "maintenance", severity: "info", message: "Filter replaced" };
    const noCsrf = await form("/events", fields, { headers: { cookie } });
    assert.equal(noCsrf.status, 403);
    assert.equal((await noCsrf.json()).error.code, "csrf_failed");
    const posted = await form("/events", { ...fields, _csrf: csrf }, { headers: { cookie } });
    assert.equal(posted.status, 303);

    const api = (headers: Record<string, string>) =>
      request("/api/v1/events", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ ...fields, message: "from the island" }),
      });
    assert.equal((await api({ cookie })).status, 401, "a cookie alone must not authorize the API");
    assert.equal((await api({ [CSRF_HEADER]: csrf })).status, 401);
    assert.equal((await api({ cookie, [CSRF_HEADER]: csrf })).status, 201);
    assert.equal((await api({ authorization: `Bearer ${TOKEN}` })).status, 201);
    assert.equal((await store.listEvents({ limit: 10 })).length, 3);

    const logout = await form("/logout", { _csrf: csrf }, { headers: { cookie } });
    assert.equal(logout.status, 303);
    assert.match(logout.headers.get("set-cookie") ?? "", /^outpost_session=; .*Max-Age=0/);
  }, { token: TOKEN });
});

Deno.test("login only redirects to local paths", async () => {
  await withUi(async ({ form }) => {
    for (const next of ["https://evil.example/", "//evil.example/x", "/\\evil.example", "events"]) {
      const response = await form("/login", { token: TOKEN, next });
      assert.equal(response.headers.get("location"), "/", next);
    }
  }, { token: TOKEN });
});

Deno.test("pages answer 503 with a starting page until the database is ready", async () => {
  await withUi(async ({ request }) => {
    const response = await request("/");
    const page = await html(response, 503);
    assert.match(page, /<h1>Starting up<\/h1>/);
    assert.equal(response.headers.get("retry-after"), "1");
  }, { ui: { isReady: () => false } });
});

Deno.test("the dashboard shows N of M sensors, and a pinned choice survives reloads through a cookie", async () => {
  await withUi(async ({ store, request }) => {
    await store.insertReadings(
      Array.from({ length: 8 }, (_, i) => ({
        sensor: `s${i}`,
        value: i,
        unit: "",
        ts: NOW - (8 - i) * 1000,
      })),
    );
    const first = await html(await request("/"));
    assert.match(first, /Showing 6 of 8 sensors: the most recently active\./);
    const shown = (p: string) => [...p.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(shown(first), ["s7", "s6", "s5", "s4", "s3", "s2"]);
    // The chooser works without JavaScript: a GET form of checkboxes.
    assert.match(first, /<form method="get" action="\/#charts">/);
    assert.match(first, /<input type="checkbox" name="pin" value="s0"\/>/);
    assert.match(first, /<input type="checkbox" name="pin" value="s7" checked\/>/);

    const chose = await request("/?choose=1&pin=s0&pin=s1&pin=nope");
    const cookie = chose.headers.get("set-cookie") ?? "";
    assert.match(
      cookie,
      /^outpost_pins=s0%2Cs1; Max-Age=31536000; Path=\/; SameSite=Lax; HttpOnly$/,
    );
    const pinned = await html(chose);
    assert.deepEqual(shown(pinned), ["s0", "s1"]);
    assert.match(pinned, /Showing the 2 sensors you pinned \(2 of 8 sensors\)\./);
    assert.deepEqual(islandProps(pinned, "LiveDashboard").pinned, ["s0", "s1"]);

    // A plain visit (no JavaScript, no query) keeps the choice.
    const again = await html(await request("/", { headers: { cookie: cookie.split(";")[0] } }));
    assert.deepEqual(shown(again), ["s0", "s1"]);
    assert.match(again, /href="\/\?choose=1#charts"/);
    const reset = await request("/?choose=1", { headers: { cookie: cookie.split(";")[0] } });
    assert.match(reset.headers.get("set-cookie") ?? "", /^outpost_pins=; Max-Age=0/);
    assert.equal(shown(await html(reset)).length, 6);
  });
});

Deno.test("pages with readings at the largest doubles draw no NaN or Infinity and print them readably", async () => {
  await withUi(async ({ store, request }) => {
    const max = Number.MAX_VALUE;
    await store.insertReadings([
      { sensor: "huge", value: max, unit: "", ts: NOW - 60_000 },
      { sensor: "huge", value: max, unit: "", ts: NOW - 30_000 },
      { sensor: "wide", value: -max, unit: "C", ts: NOW - 60_000 },
      { sensor: "wide", value: max, unit: "C", ts: NOW - 30_000 },
      { sensor: "one", value: 21.5, unit: "C", ts: NOW - 10_000 },
      { sensor: "future", value: 1, unit: "", ts: Date.parse("9999-12-31T23:59:59Z") },
    ]);
    for (const path of ["/", "/readings?range=1h", "/readings?range=30d&sensor=future"]) {
      const page = await html(await request(path));
      assert.doesNotMatch(page, /NaN|Infinity/, path);
    }
    const readings = await html(await request("/readings?range=1h&sensor=huge"));
    assert.match(readings, /<td class="num" role="cell" data-label="Avg">1\.80e\+308<\/td>/);
    const dashboard = await html(await request("/?choose=1&pin=future"));
    assert.match(dashboard, /latest 1 at 9999-12-31 23:59:59 UTC/);
  });
});

Deno.test("a browser gets HTML 404 and error pages, an API client the JSON envelope", async () => {
  await withUi(async ({ request, form }) => {
    const browser = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
    const missing = await html(await request("/no/such/page", { headers: browser }), 404);
    assert.match(missing, /<h1>Page not found<\/h1>/);
    assert.match(missing, /There is no page at <code>\/no\/such\/page<\/code>/);
    assert.match(missing, /<a href="\/">Go to the dashboard<\/a>/);
    assert.match(missing, /<nav aria-label="Main">/, "inside the console's layout");

    const api = await request("/no/such/page", { headers: { accept: "*/*" } });
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error.code, "not_found");
    const apiPath = await request("/api/v1/nope", { headers: browser });
    assert.equal(apiPath.status, 404);
    assert.match(apiPath.headers.get("content-type") ?? "", /application\/json/);

    // A form post a browser makes that is refused (wrong content type) gets a page too.
    const refused = await request("/events", {
      method: "POST",
      headers: { ...browser, "content-type": "text/plain" },
      body: "x",
    });
    const page = await html(refused, 415);
    assert.match(page, /<h1>That form could not be read<\/h1>/);
    assert.equal(
      (await form("/events", {}, { headers: { accept: "application/json" } })).status,
      422,
    );
  });
});

Deno.test("an unexpected failure shows a 500 page without internals to a browser", async () => {
  await withUi(async ({ request }) => {
    const page = await html(
      await request("/settings", { headers: { accept: "text/html" } }),
      500,
    );
    assert.match(page, /<h1>Something went wrong<\/h1>/);
    assert.doesNotMatch(page, /secret internals/);
    const api = await request("/settings", { headers: { accept: "application/json" } });
    assert.equal(api.status, 500);
    assert.equal((await api.json()).error.code, "internal");
  }, {
    ui: { enrollment: () => Promise.reject(new Error("secret internals: /var/lib/x")) },
  });
});
