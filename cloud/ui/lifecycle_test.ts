/**
 * The fleet console's identity and lifecycle actions: forms on the device page that call the
 * API's own use cases, the fleet's notice of pending enrollment requests, status badges.
 */
import assert from "node:assert/strict";
import { hashDeviceSecret } from "../fleet/secrets.ts";
import type { CloudStore } from "../store/store.ts";
import { withConsole } from "../testing/console.ts";
import { readingBatch } from "../testing/fixtures.ts";

interface Harness {
  store: CloudStore;
  get: (path: string) => Promise<Response>;
  post: (path: string, fields: Record<string, string>) => Promise<Response>;
  csrf: string;
}

/** The shared console, logged in: pages and same-origin form posts carry the session cookie. */
function withLoggedInConsole(fn: (h: Harness) => Promise<void>): Promise<void> {
  return withConsole(async ({ store, request, form, login }) => {
    const { cookie, csrf } = await login();
    const get = (path: string) => request(path, { headers: { cookie } });
    const post = (path: string, fields: Record<string, string>) => form(path, fields, cookie);
    await fn({ store, get, post, csrf });
  });
}

async function page(response: Response, status = 200): Promise<string> {
  assert.equal(response.status, status, await response.clone().text());
  return await response.text();
}

async function device(store: CloudStore, id: string): Promise<void> {
  await store.enrollDevice({
    id,
    passwordHash: null,
    secretHash: hashDeviceSecret(id, "secret-0123456789abcdef0123456789abcdef"),
  });
}

Deno.test("the device page shows the status and the lifecycle actions as forms", async () => {
  await withLoggedInConsole(async (h) => {
    await device(h.store, "pi-1");
    const html = await page(await h.get("/devices/pi-1"));
    assert.match(html, /<h2 id="lifecycle-heading">Identity and lifecycle<\/h2>/);
    assert.match(html, /data-fact="status"><span class="badge status-active">Active<\/span>/);
    for (const action of ["revoke", "decommission", "reset-position", "delete"]) {
      assert.match(html, new RegExp(`name="action" value="${action}"`), action);
    }
    assert.doesNotMatch(html, /value="reinstate"/, "an active device is not reinstated");
    assert.match(html, /name="data" value="keep" required/);
  });
});

Deno.test("revoking from the console calls the use case, redirects back and says what happened; reinstate undoes it", async () => {
  await withLoggedInConsole(async (h) => {
    await device(h.store, "pi-1");
    const refused = await h.post("/devices/pi-1/lifecycle", { action: "revoke" });
    assert.equal(refused.status, 403, "without the CSRF token nothing happens");
    assert.equal((await h.store.getDevice("pi-1"))?.status, "active");
    const done = await h.post("/devices/pi-1/lifecycle", { action: "revoke", _csrf: h.csrf });
    assert.equal(done.status, 303, await done.clone().text());
    assert.equal(done.headers.get("location"), "/devices/pi-1?done=revoked#lifecycle");
    assert.equal((await h.store.getDevice("pi-1"))?.status, "revoked");
    const html = await page(await h.get("/devices/pi-1?done=revoked"));
    assert.match(html, /Revoked: its broker credentials are removed and its session ended\./);
    assert.match(html, /value="reinstate"/);
    const list = await page(await h.get("/"));
    assert.match(list, /<span class="badge status-revoked">Revoked<\/span>/);
    await h.post("/devices/pi-1/lifecycle", { action: "reinstate", _csrf: h.csrf });
    assert.equal((await h.store.getDevice("pi-1"))?.status, "active");
  });
});

Deno.test("deleting needs the operator's choice about the data; then the fleet says it is gone", async () => {
  await withLoggedInConsole(async (h) => {
    await device(h.store, "pi-1");
    await h.store.commitBatch("pi-1", readingBatch(1, 3));
    const unchosen = await page(
      await h.post("/devices/pi-1/lifecycle", { action: "delete", _csrf: h.csrf }),
      422,
    );
    assert.match(unchosen, /role="alert" id="lifecycle-error">Choose whether to keep/);
    const deleted = await h.post("/devices/pi-1/lifecycle", {
      action: "delete",
      data: "keep",
      _csrf: h.csrf,
    });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get("location"), "/?deleted=pi-1");
    assert.match(await page(await h.get("/?deleted=pi-1")), /Device pi-1 was deleted\./);
    assert.equal(await h.store.getDevice("pi-1"), undefined);
    assert.equal((await h.store.queryReadings({ device: "pi-1", limit: 10 })).length, 3);
  });
});

Deno.test("pending enrollment requests are announced on the fleet and decided on the device page", async () => {
  await withLoggedInConsole(async (h) => {
    await device(h.store, "pi-1");
    const request = await h.store.recordEnrollmentRequest({
      deviceId: "pi-1",
      secretHash: hashDeviceSecret("pi-1", "requester-0123456789abcdef0123456789"),
      address: "192.0.2.9",
      version: "2.0.0",
    });
    const list = await page(await h.get("/"));
    assert.match(list, /id="pending-requests"/);
    assert.match(list, /<a href="\/devices\/pi-1#lifecycle">pi-1<\/a>/);
    const html = await page(await h.get("/devices/pi-1"));
    assert.match(html, new RegExp(`data-request="${request.id}"`));
    assert.match(html, /from 192\.0\.2\.9, version 2\.0\.0/);
    const approved = await h.post(`/enrollment-requests/${request.id}/approve`, {
      device: "pi-1",
      _csrf: h.csrf,
    });
    assert.equal(approved.status, 303);
    assert.equal(approved.headers.get("location"), "/devices/pi-1?done=approved#lifecycle");
    assert.equal((await h.store.getEnrollmentRequest(request.id))?.status, "approved");
    assert.equal(
      (await h.store.deviceIdentity("pi-1"))?.secretHash,
      hashDeviceSecret("pi-1", "requester-0123456789abcdef0123456789"),
    );
    // Deciding it again the other way is refused with the reason, on the device page.
    const again = await page(
      await h.post(`/enrollment-requests/${request.id}/reject`, { device: "pi-1", _csrf: h.csrf }),
      409,
    );
    assert.match(again, /Not done: Enrollment request .* was already decided otherwise/);
  });
});
