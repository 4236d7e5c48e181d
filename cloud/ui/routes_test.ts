import assert from "node:assert/strict";
import type { BatchRecord } from "@outpost/protocol";
import { topics } from "@outpost/protocol";
import type { CloudStore } from "../store/store.ts";
import { CONSOLE_ADMIN, type ConsoleHarness, withConsole } from "../testing/console.ts";
import { enrollForTest } from "../testing/fixtures.ts";
import { html, islandProps } from "@outpost/web/testing/html";
import { CSRF_HEADER } from "@outpost/web/session";
import type { FleetUiOptions } from "./mod.ts";

const ADMIN = CONSOLE_ADMIN;
const NOW = Date.now();

type Harness = ConsoleHarness;

function withFleet(
  fn: (h: Harness) => Promise<void>,
  options: Partial<FleetUiOptions> = {},
): Promise<void> {
  return withConsole(fn, { now: () => NOW, ...options });
}

function reading(seq: number, sensor: string, value: number, unit: string): BatchRecord {
  return {
    seq,
    type: "reading",
    sensor,
    value,
    unit,
    ts: new Date(NOW - (100 - seq) * 60_000).toISOString(),
  };
}

/** Two devices: `edge-pi-07` online with readings of two sensors and an event, `jetson-02` offline. */
async function seed(store: CloudStore): Promise<void> {
  await store.enrollDevice({
    id: "edge-pi-07",
    passwordHash: null,
    labels: { site: "north", note: "<script>alert(1)</script>" },
    arch: "aarch64",
    version: "1.4.0",
  });
  await enrollForTest(store, "jetson-02");
  await store.applyStatus("edge-pi-07", { online: true, lastSeq: 45 });
  const records: BatchRecord[] = [];
  for (let seq = 1; seq <= 40; seq++) {
    records.push(
      seq % 2 ? reading(seq, "temp", 20 + seq / 10, "C") : reading(seq, "hum", 40 + seq / 5, "%"),
    );
  }
  records.push({
    seq: 41,
    type: "event",
    id: "ev-1",
    kind: "door.open",
    severity: "warning",
    message: "Door <b>3</b> opened",
    ts: new Date(NOW).toISOString(),
  });
  await store.commitBatch("edge-pi-07", { from: 1, to: 41, records });
}

function rowIds(page: string): string[] {
  return [...page.matchAll(/<a href="\/devices\/[^"]+" class="device-link">([^<]+)<\/a>/g)]
    .map((m) => m[1]);
}

Deno.test("without a session every page redirects to the login and posts change nothing", async () => {
  await withFleet(async ({ request, form, store }) => {
    await seed(store);
    for (const path of ["/", "/?q=pi&status=online", "/devices/edge-pi-07"]) {
      const response = await request(path);
      assert.equal(response.status, 303, path);
      assert.equal(
        response.headers.get("location"),
        `/login?${new URLSearchParams({ next: path })}`,
      );
    }
    const desired = await form("/devices/edge-pi-07/desired", { desired: '{"a":1}' });
    const again = await html(desired, 401);
    assert.match(again, /Your session has ended; log in again/);
    assert.match(again, /<input type="hidden" name="next" value="\/devices\/edge-pi-07"\/>/);
    const command = await form("/devices/edge-pi-07/commands", { name: "ping" });
    assert.equal(command.status, 401);
    assert.equal((await store.getDevice("edge-pi-07"))?.desiredVersion, 0);
    assert.deepEqual(await store.listCommands("edge-pi-07", 10), []);
    const api = await request("/api/v1/devices");
    assert.equal(api.status, 401, "the API still needs the token or a session");
  });
});

Deno.test("the login refuses a wrong token and sets an HttpOnly SameSite=Strict cookie for the right one", async () => {
  await withFleet(async ({ request, form }) => {
    const page = await html(await request("/login?next=/devices/x"));
    assert.match(page, /<h1>Log in<\/h1>/);
    assert.match(page, /<label for="field-token">Admin token<\/label>/);
    assert.match(page, /<input type="hidden" name="next" value="\/devices\/x"\/>/);

    const wrong = await form("/login", { token: "not-the-admin-token-000", next: "/" });
    assert.match(await html(wrong, 401), /That is not the cloud(&#39;|')s admin token\./);
    assert.equal(wrong.headers.get("set-cookie"), null);
    const empty = await form("/login", { token: "", next: "/" });
    assert.match(await html(empty, 401), /Enter the admin token\./);

    const right = await form("/login", { token: ADMIN, next: "/?q=pi" });
    assert.equal(right.status, 303);
    assert.equal(right.headers.get("location"), "/?q=pi");
    const setCookie = right.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^outpost_fleet_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
    assert.ok(!setCookie.includes(ADMIN), "the cookie must not hold the token");
    const offsite = await form("/login", { token: ADMIN, next: "//evil.example/" });
    assert.equal(offsite.headers.get("location"), "/");
    const crossSite = await request("/login", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-site": "cross-site",
      },
      body: new URLSearchParams({ token: ADMIN }).toString(),
    });
    assert.equal(crossSite.status, 403);
  });
});

Deno.test("the device table shows presence, last seen, lag, version, arch and escaped labels", async () => {
  await withFleet(async ({ request, store, login }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const response = await request("/", { headers: { cookie } });
    const page = await html(response);
    assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(page, /<h1>Devices<\/h1>/);
    assert.match(page, /<a href="\/" aria-current="page">Devices<\/a>/);
    assert.deepEqual(rowIds(page), ["edge-pi-07", "jetson-02"]);
    assert.match(page, /data-presence="edge-pi-07"><span class="badge sync-online">Online/);
    assert.match(page, /data-presence="jetson-02"><span class="badge sync-offline">Offline/);
    assert.match(
      page,
      /<td class="num" role="cell" data-label="Lag">4<\/td>/,
      "lag = lastSeq 45 - ackedSeq 41",
    );
    assert.match(
      page,
      /<td role="cell" data-label="Version">1\.4\.0<\/td><td role="cell" data-label="Arch">aarch64<\/td>/,
    );
    assert.match(page, /<code>site=north<\/code>/);
    assert.ok(!page.includes("<script>alert(1)"), "a label was not escaped");
    assert.match(page, /note=&lt;script>alert\(1\)&lt;\/script>/);
    assert.match(page, /2 devices, 1 online\./);
    assert.match(page, /<form method="post" action="\/logout">/);
    assert.match(page, /<a href="\/rollouts">Rollouts<\/a>/);
    assert.match(page, /<a href="\/jobs">Jobs<\/a>/);
    const props = islandProps(page, "FleetTable");
    assert.equal(props.csrfToken, csrf);
    assert.equal(props.apiUrl, "/api/v1/devices?limit=50");
    assert.equal(props.pollMs, 5000);
    assert.equal((props.devices as unknown[]).length, 2);
    assert.deepEqual(props.counts, { total: 2, online: 1, offline: 1, lagging: 0 });
  });
});

Deno.test("the list is filtered on the server by selector, id prefix and state, as a GET form without JavaScript", async () => {
  await withFleet(async ({ request, store, login }) => {
    await seed(store);
    const { cookie } = await login();
    const get = async (query: string, status = 200) =>
      await html(await request(`/?${query}`, { headers: { cookie } }), status);
    const byPrefix = await get("q=edge-");
    assert.deepEqual(rowIds(byPrefix), ["edge-pi-07"]);
    assert.match(byPrefix, /<input id="field-q" name="q" type="search" value="edge-"/);
    assert.match(byPrefix, /1 device matches; 1 online\./);
    assert.match(byPrefix, /<a href="\/">Clear<\/a>/);
    const bySelector = await get("selector=site%3Dnorth");
    assert.deepEqual(rowIds(bySelector), ["edge-pi-07"]);
    assert.match(bySelector, /value="site=north"/);
    assert.deepEqual(rowIds(await get("selector=!site")), ["jetson-02"]);
    const offline = await get("state=offline");
    assert.deepEqual(rowIds(offline), ["jetson-02"]);
    assert.match(offline, /<option value="offline" selected>Offline<\/option>/);
    // The tabs keep the filter and show the counts of every match.
    assert.match(
      offline,
      /<a href="\/\?state=online" data-state-count="online">Online <span class="count">1<\/span><\/a>/,
    );
    assert.match(offline, /aria-current="page" data-state-count="offline"/);
    assert.deepEqual(
      islandProps(offline, "FleetTable").apiUrl,
      "/api/v1/devices?state=offline&limit=50",
    );
    const none = await get("q=nothing&state=online");
    assert.match(none, /No device matches the filter\./);
    // A malformed selector is a form error, not a crash, and lists nothing.
    const bad = await get("selector=site%3D", 200);
    assert.deepEqual(rowIds(bad), [], "site= (empty value) matches nothing here");
    const malformed = await get(`selector=${encodeURIComponent("site in (a")}`, 422);
    assert.match(
      malformed,
      /Selector: expected &#39;,&#39; or &#39;\)&#39; at position 10|Selector: expected ',' or '\)' at position 10/,
    );
    assert.doesNotMatch(malformed, /outpost-island/);
    const cursor = await get("cursor=garbage", 422);
    assert.match(cursor, /This page link is not valid any more/);
  });
});

Deno.test("the list pages through the fleet by id; the next page link carries the filter", async () => {
  await withFleet(async ({ request, store, login }) => {
    for (let i = 0; i < 120; i++) {
      await store.enrollDevice({
        id: `dev-${String(i).padStart(3, "0")}`,
        passwordHash: null,
        labels: { site: i % 2 ? "odd" : "even" },
      });
    }
    const { cookie } = await login();
    const first = await html(await request("/?selector=site%3Deven", { headers: { cookie } }));
    assert.equal(rowIds(first).length, 50);
    assert.equal(rowIds(first)[0], "dev-000");
    const next = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(first)?.[1];
    assert.ok(next, "a next page link");
    assert.match(next, /^\/\?selector=site%3Deven&amp;cursor=/);
    const second = await html(
      await request(next.replaceAll("&amp;", "&"), { headers: { cookie } }),
    );
    assert.equal(rowIds(second).length, 10);
    assert.equal(rowIds(second)[0], "dev-100");
    assert.match(second, /<a href="\/\?selector=site%3Deven">First page<\/a>/);
    assert.doesNotMatch(second, /Next page/);
    assert.match(second, /60 devices match; 0 online\./);
  });
});

Deno.test("with no devices the table says how devices appear", async () => {
  await withFleet(async ({ request, login }) => {
    const { cookie } = await login();
    const page = await html(await request("/", { headers: { cookie } }));
    assert.match(page, /No devices are enrolled yet\./);
    assert.match(page, /0 devices, 0 online\./);
  });
});

Deno.test("the device page charts one series per sensor and lists events, desired state and commands", async () => {
  await withFleet(async ({ request, store, login }) => {
    await seed(store);
    await store.createCommand({ deviceId: "edge-pi-07", name: "ping" });
    const { cookie, csrf } = await login();
    const page = await html(await request("/devices/edge-pi-07", { headers: { cookie } }));
    assert.match(page, /<h1>edge-pi-07<\/h1>/);
    assert.deepEqual([...page.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]), [
      "hum",
      "temp",
    ]);
    assert.match(page, /<title id="device-chart-0-hum-title">hum \(%\)<\/title>/);
    assert.match(page, /Door &lt;b>3&lt;\/b> opened/);
    assert.match(page, /<dd data-fact="arch">aarch64<\/dd>/);
    assert.match(page, /<dd data-fact="stats">40 readings, 1 event<\/dd>/);
    assert.match(page, /Showing all 2 sensors\./);
    // Operator words up front, seq numbers in the details.
    assert.match(
      page,
      /<dd data-fact="lag">4 records reported by the device but not stored yet\.<\/dd>/,
    );
    assert.match(page, /<summary>Sync details<\/summary>.*<dd data-fact="ackedSeq">41<\/dd>/s);
    // Sections to jump to, and forms that come back to themselves when refused.
    for (const id of ["device", "charts", "desired", "commands", "recent-events"]) {
      assert.match(page, new RegExp(`<a href="#${id}">`));
      assert.match(page, new RegExp(`<section class="section" id="${id}"`));
    }
    assert.match(page, /<form method="post" action="\/devices\/edge-pi-07\/desired#desired"/);
    assert.match(page, /<form method="post" action="\/devices\/edge-pi-07\/commands#commands"/);
    assert.match(
      page,
      /<textarea id="field-desired" name="desired" rows="10" required aria-describedby=/,
    );
    assert.match(page, new RegExp(`<input type="hidden" name="_csrf" value="${csrf}"/>`));
    for (const name of ["ping", "resync", "set-log-level"]) {
      assert.match(page, new RegExp(`<input type="hidden" name="name" value="${name}"/>`));
    }
    assert.match(page, /<option value="debug">debug<\/option>/);
    const commands = islandProps(page, "CommandList");
    assert.equal(commands.apiUrl, "/api/v1/devices/edge-pi-07/commands?limit=20");
    assert.equal((commands.commands as { status: string }[])[0].status, "queued");
    assert.match(page, /<span class="badge command-queued"/);
  });
});

Deno.test("an unknown device is a 404 page with the id escaped", async () => {
  await withFleet(async ({ request, login }) => {
    const { cookie } = await login();
    const page = await html(await request("/devices/nope", { headers: { cookie } }), 404);
    assert.match(page, /<h1>Device not found<\/h1>/);
    assert.match(page, /<code>nope<\/code>/);
    const evil = await html(
      await request(`/devices/${encodeURIComponent("<img src=x>")}`, { headers: { cookie } }),
      404,
    );
    assert.ok(!evil.includes("<img src=x>"));
    assert.match(evil, /&lt;img src=x>/);
  });
});

Deno.test("saving the desired state bumps its version like the API, publishes it and redirects", async () => {
  await withFleet(async ({ request, form, store, link, login }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const saved = await form(
      "/devices/edge-pi-07/desired",
      { _csrf: csrf, desired: '{\n  "logLevel": "debug",\n  "sampleSeconds": 5\n}' },
      cookie,
    );
    assert.equal(saved.status, 303, await saved.clone().text());
    assert.equal(saved.headers.get("location"), "/devices/edge-pi-07?saved=1#desired");
    const device = await store.getDevice("edge-pi-07");
    assert.equal(device?.desiredVersion, 1);
    assert.deepEqual(device?.desired, { logLevel: "debug", sampleSeconds: 5 });
    assert.deepEqual(link.on(topics.desired("edge-pi-07")), [
      { version: 1, desired: { logLevel: "debug", sampleSeconds: 5 } },
    ]);
    const page = await html(
      await request("/devices/edge-pi-07?saved=1", { headers: { cookie } }),
    );
    assert.match(page, /Saved desired state version 1/);
    assert.match(page, /<dd data-fact="desiredVersion">1<\/dd>/);
    assert.match(page, /&quot;logLevel&quot;: &quot;debug&quot;|"logLevel": "debug"/);
    // The API sees the same state and continues the same version sequence.
    const api = await request("/api/v1/devices/edge-pi-07/desired", {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ logLevel: "info" }),
    });
    assert.deepEqual(await api.json(), { version: 2 });
  });
});

Deno.test("an invalid desired state re-renders the editor with an inline error and 422", async () => {
  await withFleet(async ({ form, store, link, login }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    for (
      const [text, message] of [
        ['{"logLevel": ', /Desired state must be valid JSON/],
        ["[1, 2]", /Desired state must be a JSON object/],
        ["", /Desired state is required\./],
      ] as const
    ) {
      const page = await html(
        await form("/devices/edge-pi-07/desired", { _csrf: csrf, desired: text }, cookie),
        422,
      );
      assert.match(page, message);
      assert.match(page, /<p class="error" id="field-desired-error">/);
      assert.match(page, /aria-invalid="true"/);
      assert.match(page, /<a href="#field-desired">/);
      if (text) assert.ok(page.includes(text.replace(/"/g, "&quot;")) || page.includes(text));
    }
    assert.equal((await store.getDevice("edge-pi-07"))?.desiredVersion, 0);
    assert.deepEqual(link.on(topics.desired("edge-pi-07")), []);
  });
});

Deno.test("form posts need the session's CSRF token and the same origin", async () => {
  await withFleet(async ({ request, form, store, login }) => {
    await seed(store);
    const { cookie } = await login();
    const noCsrf = await form("/devices/edge-pi-07/desired", { desired: "{}" }, cookie);
    assert.equal(noCsrf.status, 403);
    assert.equal((await noCsrf.json()).error.code, "csrf_failed");
    const badCsrf = await form(
      "/devices/edge-pi-07/commands",
      { name: "ping", _csrf: "x" },
      cookie,
    );
    assert.equal(badCsrf.status, 403);
    const crossSite = await request("/devices/edge-pi-07/commands", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://evil.example",
        cookie,
      },
      body: "name=ping",
    });
    assert.equal(crossSite.status, 403);
    assert.equal((await crossSite.json()).error.code, "cross_site_request");
    assert.equal((await store.getDevice("edge-pi-07"))?.desiredVersion, 0);
    assert.deepEqual(await store.listCommands("edge-pi-07", 10), []);
  });
});

Deno.test("command buttons queue commands like the API and show their status", async () => {
  await withFleet(async ({ request, form, store, link, login }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const ping = await form("/devices/edge-pi-07/commands", { _csrf: csrf, name: "ping" }, cookie);
    assert.equal(ping.status, 303);
    const location = ping.headers.get("location") ?? "";
    const id = /\?command=([0-9a-f-]{36})#commands$/.exec(location)?.[1];
    assert.ok(id, location);
    const stored = await store.getCommand("edge-pi-07", id);
    assert.equal(stored?.name, "ping");
    assert.equal(stored?.status, "delivered", "the device is online, so it was published");
    assert.deepEqual(link.on(topics.command("edge-pi-07")), [{ id, name: "ping" }]);

    const level = await form(
      "/devices/edge-pi-07/commands",
      { _csrf: csrf, name: "set-log-level", level: "debug" },
      cookie,
    );
    assert.equal(level.status, 303);
    const offline = await form(
      "/devices/jetson-02/commands",
      { _csrf: csrf, name: "resync" },
      cookie,
    );
    assert.equal(offline.status, 303);
    assert.equal((await store.listCommands("jetson-02", 10))[0].status, "queued");

    const commands = await store.listCommands("edge-pi-07", 10);
    assert.deepEqual(commands.map((c) => [c.name, c.args]), [
      ["set-log-level", { level: "debug" }],
      ["ping", undefined],
    ]);
    const page = await html(await request(location, { headers: { cookie } }));
    assert.match(page, /<span class="badge command-delivered"/);
    assert.equal(islandProps(page, "CommandList").highlight, id);
    assert.match(page, /<time datetime="[^"]+" class="new">/);
  });
});

Deno.test("bad command forms answer 422 with the error and queue nothing; unknown devices 404", async () => {
  await withFleet(async ({ form, store, login }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const unknown = await html(
      await form("/devices/edge-pi-07/commands", { _csrf: csrf, name: "reboot" }, cookie),
      422,
    );
    assert.match(unknown, /Command must be one of: ping, resync, set-log-level\./);
    const level = await html(
      await form(
        "/devices/edge-pi-07/commands",
        { _csrf: csrf, name: "set-log-level", level: "loud" },
        cookie,
      ),
      422,
    );
    assert.match(level, /Log level must be one of: debug, info, warn, error\./);
    assert.match(level, /<p class="error" id="field-level-error">/);
    assert.deepEqual(await store.listCommands("edge-pi-07", 10), []);
    await html(await form("/devices/ghost/commands", { _csrf: csrf, name: "ping" }, cookie), 404);
    await html(await form("/devices/ghost/desired", { _csrf: csrf, desired: "{}" }, cookie), 404);
  });
});

Deno.test("the islands reach the API with the session cookie plus its CSRF header, not the cookie alone", async () => {
  await withFleet(async ({ request, store, login }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const withSession = await request("/api/v1/devices", {
      headers: { cookie, [CSRF_HEADER]: csrf },
    });
    assert.equal(withSession.status, 200);
    assert.equal((await withSession.json()).items.length, 2);
    assert.equal((await request("/api/v1/devices", { headers: { cookie } })).status, 401);
    assert.equal(
      (await request("/api/v1/devices", { headers: { [CSRF_HEADER]: csrf } })).status,
      401,
    );
    const commands = await request("/api/v1/devices/edge-pi-07/commands?limit=20", {
      headers: { cookie, [CSRF_HEADER]: csrf },
    });
    assert.equal(commands.status, 200);
  });
});

Deno.test("logging out needs the CSRF token and clears the cookie", async () => {
  await withFleet(async ({ form, login }) => {
    const { cookie, csrf } = await login();
    assert.equal((await form("/logout", {}, cookie)).status, 403);
    const out = await form("/logout", { _csrf: csrf }, cookie);
    assert.equal(out.status, 303);
    assert.equal(out.headers.get("location"), "/login");
    assert.match(out.headers.get("set-cookie") ?? "", /^outpost_fleet_session=; .*Max-Age=0/);
  });
});

Deno.test("pages answer 503 with a starting page until the database is ready", async () => {
  await withFleet(async ({ request, login }) => {
    const { cookie } = await login();
    const response = await request("/", { headers: { cookie } });
    assert.match(await html(response, 503), /<h1>Starting up<\/h1>/);
    assert.equal(response.headers.get("retry-after"), "1");
  }, { isReady: () => false });
});

Deno.test("the device page charts the most recently active sensors and says how many of how many", async () => {
  await withFleet(async ({ request, store, login }) => {
    await enrollForTest(store, "many");
    const base = Date.parse("2026-11-26T10:00:00Z");
    const records: BatchRecord[] = Array.from({ length: 30 }, (_, i) => ({
      seq: i + 1,
      type: "reading" as const,
      // "a-…" sort first by name; the live sensor is "temperature", written last.
      sensor: i === 29 ? "temperature" : `a-${String(i).padStart(2, "0")}`,
      value: i,
      unit: "",
      ts: new Date(base + i * 1000).toISOString(),
    }));
    await store.commitBatch("many", { from: 1, to: 30, records });
    const { cookie } = await login();
    const page = await html(await request("/devices/many", { headers: { cookie } }));
    const series = [...page.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(series.length, 12);
    assert.equal(series[0], "temperature");
    assert.match(page, /Showing 12 of 30 sensors: the most recently active\./);
    assert.match(page, /<summary>The 18 other sensors<\/summary>/);
    assert.match(page, /<code>a-00<\/code>/);
  });
});
