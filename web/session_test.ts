import assert from "node:assert/strict";
import {
  createSessionAuth,
  CSRF_HEADER,
  isHttps,
  isSameOriginRequest,
  readCookie,
  SESSION_COOKIE,
} from "./session.ts";

const SECRET = "test-api-token-0123456789";

function cookieValue(setCookie: string): string {
  return setCookie.split(";")[0].split("=").slice(1).join("=");
}

function withCookie(value: string, headers: Record<string, string> = {}): Request {
  return new Request("http://agent/events", {
    headers: { cookie: `other=1; ${SESSION_COOKIE}=${value}`, ...headers },
  });
}

Deno.test("an issued session cookie is HttpOnly, SameSite=Strict and does not contain the secret", () => {
  const auth = createSessionAuth({ secret: SECRET });
  const { session, setCookie } = auth.issue();
  assert.match(
    setCookie,
    /^outpost_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
  );
  assert.ok(!setCookie.includes(SECRET));
  assert.ok(auth.issue({ secure: true }).setCookie.endsWith("; Secure"));
  const read = auth.read(withCookie(cookieValue(setCookie)));
  assert.deepEqual(read, session);
});

Deno.test("a tampered, foreign or expired session cookie is not a session", () => {
  let now = Date.parse("2026-11-26T10:00:00Z");
  const auth = createSessionAuth({ secret: SECRET, now: () => now, maxAgeSeconds: 60 });
  const value = cookieValue(auth.issue().setCookie);
  const [id, expiry, mac] = value.split(".");
  assert.equal(auth.read(withCookie(`${id}.${Number(expiry) + 3600}.${mac}`)), undefined);
  assert.equal(
    auth.read(withCookie(`${id.replace(/^./, (c) => c === "A" ? "B" : "A")}.${expiry}.${mac}`)),
    undefined,
  );
  assert.equal(auth.read(withCookie("garbage")), undefined);
  assert.equal(auth.read(new Request("http://agent/")), undefined);
  const other = createSessionAuth({ secret: "another-secret-0123456789", now: () => now });
  assert.equal(other.read(withCookie(value)), undefined, "a changed token must end sessions");
  assert.ok(auth.read(withCookie(value)));
  now += 61_000;
  assert.equal(auth.read(withCookie(value)), undefined);
});

Deno.test("checkSecret compares the secret exactly", () => {
  const auth = createSessionAuth({ secret: SECRET });
  assert.ok(auth.checkSecret(SECRET));
  assert.ok(!auth.checkSecret(SECRET.slice(0, -1)));
  assert.ok(!auth.checkSecret(`${SECRET}x`));
  assert.ok(!auth.checkSecret(""));
});

Deno.test("the CSRF token belongs to one session and the API accepts it only with the cookie", () => {
  const auth = createSessionAuth({ secret: SECRET });
  const first = auth.issue();
  const second = auth.issue();
  assert.ok(auth.checkCsrf(first.session, first.session.csrfToken));
  assert.ok(!auth.checkCsrf(first.session, second.session.csrfToken));
  assert.ok(!auth.checkCsrf(first.session, undefined));
  const cookie = cookieValue(first.setCookie);
  assert.ok(
    auth.authorizesApiRequest(withCookie(cookie, { [CSRF_HEADER]: first.session.csrfToken })),
  );
  assert.ok(!auth.authorizesApiRequest(withCookie(cookie)));
  assert.ok(
    !auth.authorizesApiRequest(withCookie(cookie, { [CSRF_HEADER]: second.session.csrfToken })),
  );
  assert.ok(
    !auth.authorizesApiRequest(
      new Request("http://agent/", { headers: { [CSRF_HEADER]: first.session.csrfToken } }),
    ),
  );
});

Deno.test("isSameOriginRequest refuses cross-site posts by Sec-Fetch-Site or Origin", () => {
  const post = (headers: Record<string, string>, url = "http://device.local:8080/events") =>
    new Request(url, { method: "POST", headers });
  assert.ok(isSameOriginRequest(post({})), "curl sends neither header");
  assert.ok(isSameOriginRequest(post({ "sec-fetch-site": "same-origin" })));
  assert.ok(!isSameOriginRequest(post({ "sec-fetch-site": "cross-site" })));
  assert.ok(!isSameOriginRequest(post({ "sec-fetch-site": "same-site" })));
  assert.ok(isSameOriginRequest(post({ origin: "http://device.local:8080" })));
  assert.ok(!isSameOriginRequest(post({ origin: "http://evil.example" })));
  assert.ok(!isSameOriginRequest(post({ origin: "null" })));
  // Behind the nginx sidecar the Host header has no port; the Origin does.
  assert.ok(
    isSameOriginRequest(
      post(
        { origin: "http://device.local:8080", host: "device.local" },
        "http://device.local/events",
      ),
    ),
  );
});

Deno.test("readCookie and isHttps read the headers they name", () => {
  assert.equal(readCookie("a=1; b=two=2 ; c=3", "b"), "two=2");
  assert.equal(readCookie("a=1", "b"), undefined);
  assert.equal(readCookie(null, "a"), undefined);
  assert.ok(isHttps(new Request("https://x/")));
  assert.ok(isHttps(new Request("http://x/", { headers: { "x-forwarded-proto": "https" } })));
  assert.ok(!isHttps(new Request("http://x/")));
});
