/**
 * The HTTP fuzzer: discovers every endpoint of a server (its OpenAPI document plus the links and
 * forms of its pages), then sends generated malformed and hostile requests — mutated bodies,
 * wrong content types, bad UTF-8, deep nesting, huge strings and numbers, traversal in ids,
 * broken auth, and raw malformed HTTP — and checks every answer: never a 5xx, always the error
 * envelope on `/api` errors, and the server still alive.
 * @module
 */
import type { Rng } from "../rng.ts";
import { corruptText, hostileValue, type Json, mutateValue } from "./values.ts";
import { rawRequest, sendRaw } from "./raw_http.ts";

/** A route to fuzz. */
export interface Endpoint {
  method: string;
  /** With `{param}` placeholders. */
  path: string;
  /** Query parameter names it documents. */
  query: string[];
  /** How it reads a body. */
  body: "json" | "form" | "none";
}

/** A server to fuzz. */
export interface HttpTarget {
  name: string;
  baseUrl: string;
  /** The bearer token that passes (admin token, or the agent's API token). */
  bearer?: string;
  /** Valid values for path parameters, by name; grown with ids the server hands out. */
  ids: Record<string, string[]>;
  /** Valid request bodies by `METHOD path`; the fuzzer mutates them. */
  samples: Record<string, (rng: Rng, n: number) => Json | Record<string, string>>;
  /** Which path parameter learns the `id` a write answers with, by `METHOD path`. */
  learnIds?: Record<string, string>;
  /** Session cookie and CSRF token of a logged-in UI user, when there is one. */
  session?: { cookie: string; csrf: string };
  /**
   * Path parameter values for particular routes instead of {@link ids} (say, a sacrificial
   * device for the routes that revoke or delete one), by method and route template.
   */
  idsFor?: (method: string, path: string) => Record<string, string[]> | undefined;
}

/** One answer that broke a rule. */
export interface FuzzFinding {
  target: string;
  request: string;
  status?: number;
  problem: string;
  body?: string;
}

/** Totals of a fuzz run against one server. */
export interface HttpFuzzResult {
  inputs: number;
  byStatus: Record<string, number>;
  serverErrors: number;
  badEnvelopes: number;
  noAnswer: number;
  findings: FuzzFinding[];
  /** 2xx/303 answers to writes, by `METHOD path`, with what they accepted. */
  accepted: Record<string, number>;
  /** Ids handed out by 2xx answers (device ids from enrollment). */
  createdIds: string[];
  /** The slowest answers (ms), a hint of inputs that cost the server dearly. */
  slowest: { ms: number; request: string; status?: number }[];
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

const CONTENT_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=----x",
  "application/json; charset=utf-16",
  "application/merge-patch+json",
  "application/jsonx",
  "application/json, text/plain",
  "application/xml",
  "",
];

const HOSTILE_IDS = [
  "..",
  "%2e%2e",
  "..%2f..%2f..%2fetc%2fpasswd",
  "%2e%2e%2f%2e%2e%2fdeno.json",
  "%252e%252e%252f",
  "..%5c..%5cwin.ini",
  "%00",
  "a%00b",
  "%ff%fe",
  "%e2%80%ae",
  "chaos-a0%2f..%2fchaos-fuzz",
  "*",
  "%23",
  "%2b",
  "-",
  "_",
  ".hidden",
  "a".repeat(64),
  "a".repeat(10_000),
  "00000000-0000-0000-0000-000000000000",
  "DROP%20TABLE",
  "%3Cscript%3E",
];

/** Options of {@link discoverEndpoints}. */
export interface DiscoverOptions {
  /** Sent with every page fetched (a session cookie, a bearer token). */
  headers?: HeadersInit;
  /** Turns a crawled path into a route template, e.g. `/devices/a1` → `/devices/{id}`. */
  template?: (path: string) => string;
}

/** Reads the OpenAPI document and the pages' links and forms of a server. */
export async function discoverEndpoints(
  baseUrl: string,
  options: DiscoverOptions = {},
): Promise<Endpoint[]> {
  const headers = options.headers ?? {};
  const template = options.template ?? ((path: string) => path);
  const endpoints = new Map<string, Endpoint>();
  const add = (endpoint: Endpoint) =>
    endpoints.set(`${endpoint.method} ${endpoint.path}`, endpoint);
  for (const path of ["/healthz", "/readyz", "/metrics", "/api/openapi.json"]) {
    add({ method: "GET", path, query: [], body: "none" });
  }
  const document = await (await fetch(`${baseUrl}/api/openapi.json`)).json() as {
    paths: Record<
      string,
      Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>
    >;
  };
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      add({
        method: method.toUpperCase(),
        path,
        query: (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
        body: operation.requestBody ? "json" : "none",
      });
    }
  }
  // The UI: follow same-origin links and forms two pages deep.
  const seen = new Set<string>();
  let frontier = ["/"];
  for (let depth = 0; depth < 2; depth++) {
    const next: string[] = [];
    for (const page of frontier) {
      if (seen.has(page)) continue;
      seen.add(page);
      let html: string;
      try {
        const response = await fetch(`${baseUrl}${page}`, { headers });
        if (!(response.headers.get("content-type") ?? "").includes("text/html")) {
          await response.body?.cancel();
          continue;
        }
        html = await response.text();
      } catch {
        continue;
      }
      for (const match of html.matchAll(/(?:href|src)="(\/[^"#?]*)(?:\?[^"]*)?"/g)) {
        const path = match[1];
        if (!seen.has(path)) next.push(path);
        if (!endpoints.has(`GET ${template(path)}`)) {
          add({ method: "GET", path: template(path), query: [], body: "none" });
        }
      }
      for (const form of html.matchAll(/<form[^>]*>/g)) {
        const method = /method="(\w+)"/i.exec(form[0])?.[1]?.toUpperCase() ?? "GET";
        const action = /action="(\/[^"?]*)/.exec(form[0])?.[1] ?? page;
        add({
          method,
          path: template(action),
          query: [],
          body: method === "POST" ? "form" : "none",
        });
      }
    }
    frontier = next;
  }
  return [...endpoints.values()];
}

function fillPath(method: string, path: string, target: HttpTarget, rng: Rng): string {
  const ids = target.idsFor?.(method, path) ?? target.ids;
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const valid = ids[name] ?? [];
    if (valid.length && rng.chance(0.6)) return percentEncode(rng.pick(valid));
    return rng.pick(HOSTILE_IDS);
  });
}

/** Percent-encodes any string, lone surrogates included (encodeURIComponent throws on them). */
function percentEncode(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(char)
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function queryString(endpoint: Endpoint, rng: Rng): string {
  if (rng.chance(0.3)) return "";
  const keys = [...endpoint.query, "limit", "from", "to", "bucket", "sensor", "device", "next"];
  const parts: string[] = [];
  for (let i = rng.int(1, 5); i > 0; i--) {
    const key = rng.chance(0.9) ? rng.pick(keys) : rng.pick(["__proto__", "a[b]", "", "%zz"]);
    const value = hostileValue(rng);
    const text = typeof value === "string" ? value : JSON.stringify(value);
    parts.push(
      rng.chance(0.1)
        ? `${key}=%zz%`
        : `${percentEncode(key)}=${percentEncode(text.slice(0, 20_000))}`,
    );
  }
  return `?${parts.join("&")}`;
}

function authHeader(target: HttpTarget, rng: Rng): Record<string, string> {
  if (!target.bearer) return {};
  const roll = rng.next();
  if (roll < 0.7) return { authorization: `Bearer ${target.bearer}` };
  return rng.pick<Record<string, string>>([
    {},
    { authorization: "Bearer wrong-token-0123456789abcdef" },
    { authorization: `Bearer ${"t".repeat(8000)}` },
    { authorization: "Basic YWRtaW46YWRtaW4=" },
    { authorization: "Bearer" },
    { authorization: `Bearer ${target.bearer} extra` },
    { authorization: `bearer ${target.bearer}` },
  ]);
}

function formEncode(fields: Record<string, unknown>): string {
  return Object.entries(fields).map(([key, value]) =>
    `${percentEncode(key)}=${
      percentEncode(typeof value === "string" ? value : JSON.stringify(value))
    }`
  ).join("&");
}

interface Built {
  method: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
  /** The endpoint as documented, for accounting. */
  route: string;
}

function buildRequest(target: HttpTarget, endpoint: Endpoint, rng: Rng, n: number): Built {
  const method = rng.chance(0.9) ? endpoint.method : rng.pick(METHODS);
  const path = fillPath(endpoint.method, endpoint.path, target, rng);
  const url = `${target.baseUrl}${path}${
    method === "GET" || rng.chance(0.2) ? queryString(endpoint, rng) : ""
  }`;
  const headers: Record<string, string> = { ...authHeader(target, rng) };
  if (endpoint.body === "form" && target.session && rng.chance(0.7)) {
    headers.cookie = target.session.cookie;
  }
  if (rng.chance(0.05)) headers["x-forwarded-host"] = rng.pick(["evil.example", "", "a,b"]);
  if (rng.chance(0.05)) {
    headers.cookie = rng.pick(["outpost_session=garbage", "=;=;", "a".repeat(5000)]);
  }
  if (rng.chance(0.05)) headers["sec-fetch-site"] = rng.pick(["cross-site", "same-site", "bogus"]);
  const route = `${endpoint.method} ${endpoint.path}`;
  if (method === "GET" || method === "HEAD" || (endpoint.body === "none" && rng.chance(0.7))) {
    return { method, url, path, headers, route };
  }
  const sample = target.samples[route]?.(rng, n) ?? hostileValue(rng);
  let body: Uint8Array<ArrayBuffer>;
  const encoder = new TextEncoder();
  if (endpoint.body === "form") {
    const fields = { ...(sample as Record<string, string>) };
    if (target.session && rng.chance(0.8)) fields._csrf = target.session.csrf;
    const roll = rng.next();
    const mutated = roll < 0.2 ? fields : mutateValue(fields as Json, rng);
    const text = mutated !== null && typeof mutated === "object" && !Array.isArray(mutated)
      ? formEncode(mutated)
      : String(JSON.stringify(mutated));
    body = rng.chance(0.15) ? corruptText(text, rng) : encoder.encode(text);
    headers["content-type"] = rng.chance(0.8)
      ? "application/x-www-form-urlencoded"
      : rng.pick(CONTENT_TYPES);
    if (rng.chance(0.8)) headers.origin = new URL(target.baseUrl).origin;
    else if (rng.chance(0.5)) {
      headers.origin = rng.pick(["https://evil.example", "null", "garbage"]);
    }
  } else {
    const roll = rng.next();
    if (roll < 0.12) body = encoder.encode(JSON.stringify(sample));
    else if (roll < 0.62) {
      body = encoder.encode(String(JSON.stringify(mutateValue(sample as Json, rng))));
    } else if (roll < 0.85) body = corruptText(JSON.stringify(sample), rng);
    else if (roll < 0.97) body = encoder.encode(String(JSON.stringify(hostileValue(rng))));
    else body = new Uint8Array(rng.pick([9 * 1024 * 1024, 3 * 1024 * 1024])).fill(0x20);
    headers["content-type"] = rng.chance(0.8) ? "application/json" : rng.pick(CONTENT_TYPES);
  }
  if (headers["content-type"] === "") delete headers["content-type"];
  return { method, url, path, headers, body, route };
}

function describe(built: Built): string {
  const size = built.body ? ` body ${built.body.byteLength} bytes` : "";
  return `${built.method} ${built.url.slice(0, 160)}${size} ct=${
    built.headers["content-type"] ?? "-"
  }`;
}

/** Options of {@link fuzzHttp}. */
export interface HttpFuzzOptions {
  inputs: number;
  concurrency: number;
  rng: Rng;
  /** Share of inputs sent as raw malformed HTTP. */
  rawShare?: number;
  /** Called every `progressEvery` inputs. */
  progress?: (done: number) => void;
}

/** Fuzzes one server with `inputs` requests; never throws for what the server does. */
export async function fuzzHttp(
  target: HttpTarget,
  endpoints: Endpoint[],
  options: HttpFuzzOptions,
): Promise<HttpFuzzResult> {
  const result: HttpFuzzResult = {
    inputs: 0,
    byStatus: {},
    serverErrors: 0,
    badEnvelopes: 0,
    noAnswer: 0,
    findings: [],
    accepted: {},
    createdIds: [],
    slowest: [],
  };
  const timed = (ms: number, request: string, status?: number) => {
    if (result.slowest.length < 5 || ms > result.slowest[result.slowest.length - 1].ms) {
      result.slowest.push({ ms: Math.round(ms), request, status });
      result.slowest.sort((a, b) => b.ms - a.ms);
      result.slowest.length = Math.min(result.slowest.length, 5);
    }
  };
  const { hostname, port } = new URL(target.baseUrl);
  const rawPaths = endpoints.map((e) => e.path.replace(/\{\w+\}/g, "x"));
  // Writes are where input is stored; fuzz them more often than reads.
  const weighted = endpoints.flatMap((e) => e.method === "GET" ? [e] : [e, e, e, e]);
  const finding = (f: FuzzFinding) => {
    if (result.findings.length < 50) result.findings.push(f);
  };
  const count = (status: number | string) => {
    result.byStatus[status] = (result.byStatus[status] ?? 0) + 1;
  };
  // Slots are claimed before sending and given back when nothing was sent, so exactly
  // `inputs` requests reach the server.
  let claimed = 0;
  let n = 0;
  const worker = async (rng: Rng) => {
    while (claimed < options.inputs) {
      claimed++;
      n++;
      if (options.progress && n > 0 && n % 1000 === 0) options.progress(n);
      if (rng.chance(options.rawShare ?? 0.08)) {
        const bytes = rawRequest(rng, `${hostname}:${port}`, rawPaths);
        const answer = await sendRaw(hostname, Number(port), bytes);
        result.inputs++;
        if (answer.status === undefined) {
          result.noAnswer++;
          count("none");
        } else {
          count(answer.status);
          if (answer.status >= 500) {
            result.serverErrors++;
            finding({
              target: target.name,
              request: `raw ${JSON.stringify(new TextDecoder().decode(bytes.slice(0, 120)))}`,
              status: answer.status,
              problem: "5xx",
            });
          }
        }
        continue;
      }
      const endpoint = rng.pick(weighted);
      let built: Built;
      try {
        built = buildRequest(target, endpoint, rng, n);
      } catch {
        // A generated value too deep for this process to serialize: try another input.
        claimed--;
        continue;
      }
      const sent = performance.now();
      let response: Response;
      try {
        response = await fetch(built.url, {
          method: built.method,
          headers: built.headers,
          body: built.body,
          redirect: "manual",
          signal: AbortSignal.timeout(20_000),
        });
      } catch (error) {
        if (error instanceof TypeError && /header|URL|method/i.test(error.message)) {
          claimed--;
          continue; // the client refused to send it: not an input
        }
        result.inputs++;
        result.noAnswer++;
        count("none");
        finding({
          target: target.name,
          request: describe(built),
          problem: `no answer: ${(error as Error).message.slice(0, 120)}`,
        });
        continue;
      }
      result.inputs++;
      count(response.status);
      const type = response.headers.get("content-type") ?? "";
      const text = built.method === "HEAD" ? "" : await response.text().catch(() => "");
      timed(performance.now() - sent, describe(built), response.status);
      if (response.status >= 500) {
        result.serverErrors++;
        finding({
          target: target.name,
          request: describe(built),
          status: response.status,
          problem: "5xx",
          body: text.slice(0, 300),
        });
      } else if (
        response.status >= 400 && built.path.startsWith("/api/") && type.includes("json") &&
        built.method !== "HEAD"
      ) {
        let ok = false;
        try {
          const envelope = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
          ok = typeof envelope.error?.code === "string" &&
            typeof envelope.error?.message === "string";
        } catch {
          ok = false;
        }
        if (!ok) {
          result.badEnvelopes++;
          finding({
            target: target.name,
            request: describe(built),
            status: response.status,
            problem: "error without the JSON envelope",
            body: text.slice(0, 300),
          });
        }
      }
      // A form post that stored something redirects to a page naming what it stored.
      const accepted = response.status >= 200 && response.status < 300 ||
        (response.status === 303 &&
          /[?&](added|saved|command)=/.test(response.headers.get("location") ?? ""));
      if (accepted && built.method !== "GET" && built.method !== "HEAD") {
        let amount = 1;
        try {
          const answer = JSON.parse(text) as { accepted?: number; deviceId?: string; id?: string };
          if (typeof answer.accepted === "number") amount = answer.accepted;
          if (typeof answer.deviceId === "string") result.createdIds.push(answer.deviceId);
          const learner = target.learnIds?.[`${built.method} ${endpoint.path}`];
          if (learner && typeof answer.id === "string") {
            (target.ids[learner] ??= []).push(answer.id);
          }
        } catch {
          // a redirect or an empty body: one accepted write
        }
        const key = `${built.method} ${endpoint.path}`;
        result.accepted[key] = (result.accepted[key] ?? 0) + amount;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker(options.rng.fork())));
  return result;
}
