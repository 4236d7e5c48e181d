import assert from "node:assert/strict";
import { topics } from "@outpost/protocol";
import { html, islandProps } from "@outpost/web/testing/html";
import { withConsole } from "../testing/console.ts";
import { parseJobForm, parseRolloutForm, parseWavesText } from "./fleet_forms.ts";

async function seed(store: Parameters<Parameters<typeof withConsole>[0]>[0]["store"]) {
  for (let i = 0; i < 6; i++) {
    const id = `gw-${i}`;
    await store.enrollDevice({ id, passwordHash: null, labels: { role: "gateway", n: String(i) } });
    if (i !== 5) await store.applyStatus(id, { online: true });
  }
  await store.enrollDevice({ id: "sensor-1", passwordHash: null, labels: { role: "sensor" } });
}

Deno.test("waves are written percent[:bakeSeconds]; a bad item is named", () => {
  assert.deepEqual(parseWavesText("10:300, 50 : 60s, 100"), {
    ok: true,
    waves: [
      { percent: 10, bakeSeconds: 300 },
      { percent: 50, bakeSeconds: 60 },
      { percent: 100, bakeSeconds: 0 },
    ],
  });
  assert.deepEqual(parseWavesText("2.5%, 100"), {
    ok: true,
    waves: [{ percent: 2.5, bakeSeconds: 0 }, { percent: 100, bakeSeconds: 0 }],
  });
  assert.deepEqual(parseWavesText("ten, 100"), {
    ok: false,
    error: "Waves: 'ten' is not percent or percent:bakeSeconds (e.g. 10:300).",
  });
  assert.equal(parseWavesText(" , ").ok, false);
});

Deno.test("the rollout and job forms use the API's checks and key errors by field", () => {
  const good = parseRolloutForm({
    name: "debug",
    selector: "role=gateway",
    desired: '{"logLevel":"debug"}',
    waves: "50:10, 100",
    failureThresholdPercent: "10",
    applyTimeoutSeconds: "60",
  });
  assert.ok(good.ok);
  assert.equal(good.input.selector.text, "role=gateway");
  assert.deepEqual(good.input.waves, [{ percent: 50, bakeSeconds: 10 }, {
    percent: 100,
    bakeSeconds: 0,
  }]);
  const bad = parseRolloutForm({
    name: "",
    selector: "role in (a",
    desired: "{nope",
    waves: "50, 40",
    failureThresholdPercent: "200",
    applyTimeoutSeconds: "",
  });
  assert.ok(!bad.ok);
  assert.deepEqual(Object.keys(bad.errors).sort(), [
    "desired",
    "failureThresholdPercent",
    "name",
    "selector",
    "waves",
  ]);
  assert.match(bad.errors.desired, /^Desired state patch is not JSON/);
  assert.match(bad.errors.selector, /^Label selector: expected ',' or '\)' at position 10/);
  assert.match(bad.errors.waves, /^Waves \(1\.percent\): wave percents must increase/);
  const job = parseJobForm({
    selector: "",
    command: "set-log-level",
    level: "debug",
    ratePerMinute: "",
  });
  assert.ok(job.ok);
  assert.deepEqual(job.input.command, { name: "set-log-level", args: { level: "debug" } });
  const badJob = parseJobForm({ selector: "", command: "reboot", level: "", ratePerMinute: "-1" });
  assert.ok(!badJob.ok);
  assert.deepEqual(Object.keys(badJob.errors).sort(), ["command", "ratePerMinute"]);
});

Deno.test("a rollout is previewed, started, shown with its waves, paused, resumed and aborted from the console", async () => {
  await withConsole(async ({ request, form, login, store, step, link }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const newPage = await html(
      await request("/rollouts/new?selector=role%3Dgateway", { headers: { cookie } }),
    );
    assert.match(newPage, /<h1>New rollout<\/h1>/);
    assert.equal(islandProps(newPage, "SelectorPreview").value, "role=gateway");
    const fields = {
      _csrf: csrf,
      name: "Debug the gateways",
      selector: "role=gateway",
      desired: '{"logLevel":"debug"}',
      waves: "50:600, 100",
      failureThresholdPercent: "50",
      applyTimeoutSeconds: "900",
    };
    // Preview: the count, nothing created.
    const preview = await html(await form("/rollouts", { ...fields, action: "preview" }, cookie));
    assert.deepEqual(islandProps(preview, "SelectorPreview").counts, { total: 6, online: 5 });
    assert.match(preview, /6 devices match now \(5 online\)\./);
    assert.match(preview, /value="Debug the gateways"/);
    assert.deepEqual(
      (await request("/api/v1/rollouts", { headers: { cookie, "x-csrf-token": csrf } }).then((r) =>
        r.json()
      )).items,
      [],
    );

    const created = await form("/rollouts", { ...fields, action: "create" }, cookie);
    assert.equal(created.status, 303);
    const location = created.headers.get("location") ?? "";
    assert.match(location, /^\/rollouts\/[\w-]+\?done=created$/);
    const id = location.slice("/rollouts/".length).split("?")[0];
    await step();
    const page = await html(await request(location, { headers: { cookie } }));
    assert.match(page, /<h1>Debug the gateways<\/h1>/);
    assert.match(page, /Rollout started/);
    const props = islandProps(page, "RolloutProgress");
    assert.equal(props.apiUrl, `/api/v1/rollouts/${id}`);
    const rollout = props.rollout as { counts: Record<string, number>; waves: { state: string }[] };
    assert.deepEqual(rollout.counts, {
      targeted: 6,
      pending: 5,
      applied: 0,
      failed: 0,
      offline: 1,
      cancelled: 0,
    });
    assert.deepEqual(rollout.waves.map((w) => w.state), ["running", "waiting"]);
    assert.match(page, /data-wave-state="0"/);
    assert.match(page, /<div data-count="offline"[^>]*><dt>Offline<\/dt><dd>1<\/dd><\/div>/);
    assert.equal(link.on(topics.desired("gw-0")).length, 1);
    // Only the actions its state allows.
    assert.match(page, new RegExp(`action="/rollouts/${id}/pause"`));
    assert.doesNotMatch(page, new RegExp(`action="/rollouts/${id}/resume"`));

    const paused = await form(`/rollouts/${id}/pause`, { _csrf: csrf }, cookie);
    assert.equal(paused.headers.get("location"), `/rollouts/${id}?done=pause`);
    const pausedPage = await html(
      await request(`/rollouts/${id}?done=pause`, { headers: { cookie } }),
    );
    assert.match(pausedPage, /Paused: no further wave starts/);
    assert.match(pausedPage, new RegExp(`action="/rollouts/${id}/resume"`));
    const refused = await form(`/rollouts/${id}/pause`, { _csrf: csrf }, cookie);
    assert.equal(refused.status, 303, "pausing a paused rollout is a no-op");
    assert.equal((await form(`/rollouts/${id}/resume`, { _csrf: csrf }, cookie)).status, 303);
    assert.equal((await form(`/rollouts/${id}/abort`, { _csrf: csrf }, cookie)).status, 303);
    const conflict = await form(`/rollouts/${id}/pause`, { _csrf: csrf }, cookie);
    assert.match(await html(conflict, 409), /is aborted; only a running one pauses/);
    const noCsrf = await form(`/rollouts/${id}/rollback`, {}, cookie);
    assert.equal(noCsrf.status, 403);
    const rolledBack = await form(`/rollouts/${id}/rollback`, { _csrf: csrf }, cookie);
    assert.match(rolledBack.headers.get("location") ?? "", /^\/rollouts\/[\w-]+\?done=rollback$/);

    const list = await html(await request("/rollouts", { headers: { cookie } }));
    assert.match(list, /<a href="\/rollouts" aria-current="page">Rollouts<\/a>/);
    assert.match(list, /Rollback of Debug the gateways/);
    assert.match(list, new RegExp(`data-rollout-state="${id}"><span class="badge [^"]+">aborted`));
    assert.equal((await request("/rollouts/nope", { headers: { cookie } })).status, 404);
  });
});

Deno.test("a bad rollout form re-renders with the errors and 422, and starts nothing", async () => {
  await withConsole(async ({ form, login, store }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const response = await form("/rollouts", {
      _csrf: csrf,
      action: "create",
      name: "x",
      selector: "role=",
      desired: "[1]",
      waves: "100",
      failureThresholdPercent: "5",
      applyTimeoutSeconds: "900",
    }, cookie);
    const page = await html(response, 422);
    assert.match(page, /The rollout was not started/);
    assert.match(page, /<a href="#field-desired">Desired state patch: /);
    assert.equal((await store.rollouts.list({ limit: 5 })).items.length, 0);
    const unauthenticated = await form("/rollouts", { action: "create" });
    assert.equal(unauthenticated.status, 401);
  });
});

Deno.test("a job is previewed, started, shown with its counts and cancelled from the console", async () => {
  await withConsole(async ({ request, form, login, store, step }) => {
    await seed(store);
    const { cookie, csrf } = await login();
    const fields = {
      _csrf: csrf,
      name: "",
      selector: "role=gateway",
      command: "set-log-level",
      level: "debug",
      ratePerMinute: "1",
    };
    const preview = await html(await form("/jobs", { ...fields, action: "preview" }, cookie));
    assert.match(preview, /6 devices match now \(5 online\)\./);
    const created = await form("/jobs", { ...fields, action: "create" }, cookie);
    assert.equal(created.status, 303);
    const location = created.headers.get("location") ?? "";
    const id = location.slice("/jobs/".length).split("?")[0];
    await step();
    const page = await html(await request(location, { headers: { cookie } }));
    assert.match(page, /<h1>set-log-level on role=gateway<\/h1>/);
    const job = islandProps(page, "JobProgress").job as { counts: Record<string, number> };
    assert.equal(job.counts.targeted, 6);
    assert.equal(job.counts.delivered, 1);
    assert.equal(job.counts.scheduled, 5);
    assert.match(page, /5 waiting for the job(&#39;|')s rate\./);
    const cancelled = await form(`/jobs/${id}/cancel`, { _csrf: csrf }, cookie);
    assert.equal(cancelled.headers.get("location"), `/jobs/${id}?done=cancel`);
    const after = await html(await request(`/jobs/${id}?done=cancel`, { headers: { cookie } }));
    assert.match(after, /Cancelled: commands not delivered yet will not be\./);
    assert.doesNotMatch(after, /Cancel job/);
    assert.match(
      await html(await form(`/jobs/${id}/cancel`, { _csrf: csrf }, cookie), 409),
      /only a running one cancels/,
    );
    const list = await html(await request("/jobs", { headers: { cookie } }));
    assert.match(list, new RegExp(`data-job-state="${id}"><span class="badge [^"]+">cancelled`));
    const bad = await form("/jobs", { ...fields, action: "create", command: "reboot" }, cookie);
    assert.match(await html(bad, 422), /Command must be one of: ping, resync, set-log-level\./);
  });
});
