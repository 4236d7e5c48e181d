/**
 * UI sessions and CSRF protection for a server that has one shared secret (the agent's
 * `OUTPOST_API_TOKEN`, later the cloud's admin token).
 *
 * - Logging in with the secret sets an `HttpOnly; SameSite=Strict` cookie holding
 *   `<random id>.<expiry>.<HMAC(id.expiry)>`, keyed by a key derived from the secret: the secret
 *   itself never leaves the server, sessions need no storage, and changing the secret ends them.
 * - Each session has a CSRF token, `HMAC("csrf:" + id)`: forms carry it in a hidden field and
 *   the islands' JSON requests in an `X-CSRF-Token` header.
 * - {@link isSameOriginRequest} rejects cross-site posts by `Sec-Fetch-Site`/`Origin` even when
 *   no secret is set (then there is no session, but a web page elsewhere still should not be
 *   able to post forms to a device on the LAN).
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The session cookie's name. */
export const SESSION_COOKIE = "outpost_session";
/** The form field carrying the CSRF token. */
export const CSRF_FIELD = "_csrf";
/** The header carrying the CSRF token on JSON requests. */
export const CSRF_HEADER = "x-csrf-token";

/** A verified session. */
export interface Session {
  id: string;
  /** Expiry, seconds since the epoch. */
  expiresAt: number;
  /** The token forms and JSON requests of this session must echo. */
  csrfToken: string;
}

/** Options of {@link createSessionAuth}. */
export interface SessionAuthOptions {
  /** The shared secret users log in with. */
  secret: string;
  /** Session lifetime; default 12 hours. */
  maxAgeSeconds?: number;
  /**
   * The cookie's name; default {@link SESSION_COOKIE}. Cookies are per host, not per port, so a
   * second console on the same host (the fleet console next to an agent) needs its own name or
   * each login would replace the other's session.
   */
  cookieName?: string;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** Issues and verifies session cookies and CSRF tokens. */
export interface SessionAuth {
  /** True when `given` is the secret (constant time). */
  checkSecret(given: string): boolean;
  /** A new session and its `Set-Cookie` header value. */
  issue(options?: { secure?: boolean }): { session: Session; setCookie: string };
  /** The `Set-Cookie` header value that ends the session. */
  clear(options?: { secure?: boolean }): string;
  /** The valid, unexpired session of `request`, if any. */
  read(request: Request): Session | undefined;
  /** True when `token` is the CSRF token of `session`. */
  checkCsrf(session: Session, token: string | null | undefined): boolean;
  /**
   * True when a JSON API request is authorized by the UI: a valid session cookie plus its CSRF
   * token in the `X-CSRF-Token` header (the API's bearer auth accepts this instead of a token).
   */
  authorizesApiRequest(request: Request): boolean;
}

const SESSION_VALUE = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** Creates the session authority for `options.secret`. */
export function createSessionAuth(options: SessionAuthOptions): SessionAuth {
  // A derived key: the MACs never use the secret itself, so they reveal nothing usable as it.
  const key = createHmac("sha256", options.secret).update("outpost-ui-session-v1").digest();
  const maxAge = options.maxAgeSeconds ?? 12 * 3600;
  const now = options.now ?? Date.now;
  const cookieName = options.cookieName ?? SESSION_COOKIE;
  const mac = (text: string) => createHmac("sha256", key).update(text).digest("base64url");
  const csrfFor = (id: string) => mac(`csrf:${id}`);
  const cookie = (value: string, maxAgeSeconds: number, secure?: boolean) =>
    `${cookieName}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}` +
    (secure ? "; Secure" : "");

  const read = (request: Request): Session | undefined => {
    const value = readCookie(request.headers.get("cookie"), cookieName);
    const match = value ? SESSION_VALUE.exec(value) : null;
    if (!match) return undefined;
    const [, id, expiry, signature] = match;
    if (!equalStrings(signature, mac(`${id}.${expiry}`))) return undefined;
    const expiresAt = Number(expiry);
    if (expiresAt * 1000 <= now()) return undefined;
    return { id, expiresAt, csrfToken: csrfFor(id) };
  };

  const checkCsrf = (session: Session, token: string | null | undefined) =>
    typeof token === "string" && equalStrings(token, session.csrfToken);

  return {
    checkSecret(given) {
      return equalStrings(mac(`secret:${given}`), mac(`secret:${options.secret}`));
    },
    issue(issueOptions = {}) {
      const id = randomBytes(16).toString("base64url");
      const expiresAt = Math.floor(now() / 1000) + maxAge;
      const value = `${id}.${expiresAt}.${mac(`${id}.${expiresAt}`)}`;
      return {
        session: { id, expiresAt, csrfToken: csrfFor(id) },
        setCookie: cookie(value, maxAge, issueOptions.secure),
      };
    },
    clear(clearOptions = {}) {
      return cookie("", 0, clearOptions.secure);
    },
    read,
    checkCsrf,
    authorizesApiRequest(request) {
      const session = read(request);
      return session !== undefined && checkCsrf(session, request.headers.get(CSRF_HEADER));
    },
  };
}

/** The value of cookie `name` in a `Cookie` header. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/**
 * False when a browser says the request comes from another site: `Sec-Fetch-Site` other than
 * `same-origin`/`none`, or an `Origin` that is `null` or names another host. Requests with
 * neither header (curl, scripts) pass; browsers always send one of them on a POST.
 * The host is compared without the port because a proxy in front (the nginx sidecar) may pass
 * `Host` without it.
 */
export function isSameOriginRequest(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin" || site === "none";
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  let originHost: string;
  try {
    originHost = new URL(origin).hostname;
  } catch {
    return false; // "null" (opaque origin, e.g. a sandboxed frame) or garbage
  }
  const hosts = [request.headers.get("x-forwarded-host"), request.headers.get("host")]
    .concat(new URL(request.url).host)
    .filter((host): host is string => Boolean(host))
    .map((host) => hostnameOf(host.split(",")[0].trim()));
  return hosts.includes(originHost);
}

function hostnameOf(host: string): string {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return host;
  }
}

/** True when the request arrived over HTTPS (directly or through a proxy saying so). */
export function isHttps(request: Request): boolean {
  return new URL(request.url).protocol === "https:" ||
    request.headers.get("x-forwarded-proto")?.split(",")[0].trim() === "https";
}

function equalStrings(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
