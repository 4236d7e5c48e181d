/**
 * Reading and validating JSON request bodies with the error envelope's statuses:
 * 415 wrong content type, 413 too large, 400 malformed, 422 schema violation.
 * @module
 */
import type { z } from "zod";
import { type ErrorDetail, HttpError } from "./http_error.ts";
import { holdsAtMostValues, MAX_JSON_VALUES } from "./json_limits.ts";

/** The largest body we read by default: 10,000 readings fit with room to spare. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
/** At most this many field problems are listed in one 422. */
const MAX_DETAILS = 100;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Reads a request's JSON body, enforcing content type, encoding and size. */
export async function readJsonBody(
  request: Request,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!JSON_TYPE.test(type)) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `Expected Content-Type application/json; got '${type.slice(0, 100) || "(none)"}'`,
    );
  }
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    // Compressed bodies would need a decompressed-size limit of their own; send them plain.
    throw new HttpError(
      415,
      "unsupported_media_type",
      `Content-Encoding '${
        encoding.slice(0, 40)
      }' is not supported: send the body uncompressed (identity)`,
    );
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readLimited(request, maxBytes);
  // Before parsing: millions of tiny values within the byte limit would take hundreds of MB.
  if (!holdsAtMostValues(bytes, MAX_JSON_VALUES)) {
    throw new HttpError(
      413,
      "payload_too_large",
      `Request body holds more than ${MAX_JSON_VALUES.toLocaleString("en-US")} JSON values`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "malformed_json", "Request body is not valid UTF-8");
  }
  if (text.trim() === "") throw new HttpError(400, "malformed_json", "Request body is empty");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      "malformed_json",
      `Request body is not valid JSON: ${(error as Error).message.slice(0, 200)}`,
    );
  }
}

/**
 * The client stopped sending before the body was complete (it hung up, or its Content-Length
 * lied): the client's fault, a 400 — not a 500 logged as our failure (found by the chaos fuzzer).
 */
export function incompleteBody(cause: unknown): HttpError {
  return new HttpError(
    400,
    "incomplete_body",
    `Request body could not be read to the end: ${
      String((cause as Error)?.message ?? cause).slice(0, 200)
    }`,
  );
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, "payload_too_large", `Request body exceeds ${maxBytes} bytes`);
}

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw incompleteBody(error);
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** A received value in a few words: `null`, `number`, `string '21.5'`, `array of 3`. */
function received(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return `an array of ${input.length.toLocaleString("en-US")}`;
  if (typeof input === "number" && !Number.isFinite(input)) return String(input);
  if (typeof input === "string") {
    return `the string '${input.length > 40 ? `${input.slice(0, 40)}…` : input}'`;
  }
  if (typeof input === "object") return "an object";
  return `a ${typeof input}`;
}

const TYPE_WORDS: Record<string, string> = {
  number: "a finite number",
  string: "a string",
  boolean: "true or false",
  object: "an object",
  array: "an array",
  int: "a whole number",
};

const SIZE_RULES: Record<string, [max: string, min: string, unit: string]> = {
  string: ["max_length", "min_length", "character"],
  array: ["max_items", "min_items", "item"],
  set: ["max_items", "min_items", "item"],
  file: ["max_length", "min_length", "byte"],
};

function plural(n: number | bigint, unit: string): string {
  return `${n.toLocaleString("en-US")} ${unit}${n === 1 ? "" : "s"}`;
}

/**
 * One zod issue as an envelope detail: the field, the rule it broke with its limit, and words
 * a person can act on. Issues parsed with `reportInput` also say what was received.
 */
export function describeIssue(issue: z.core.$ZodIssue): ErrorDetail {
  const base = issue.path.length ? issue.path.map(String).join(".") : "";
  const field = base || "(body)";
  const input = (issue as { input?: unknown }).input;
  const has = "input" in issue;
  const got = has ? ` (got ${received(input)})` : "";
  switch (issue.code) {
    case "invalid_type": {
      // zod leaves `input` out when it is undefined; its own message then ends so too.
      if ((has && input === undefined) || / received undefined$/.test(issue.message)) {
        return { field, rule: "required", message: "is required" };
      }
      // A schema's own message says the expected form better than a type name.
      const custom = !issue.message.startsWith("Invalid input");
      const words = custom
        ? issue.message
        : `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
      return { field, rule: "type", message: `${words}${got}`, limit: issue.expected };
    }
    case "too_big":
    case "too_small": {
      const big = issue.code === "too_big";
      const limit = Number(big ? issue.maximum : issue.minimum);
      const sizes = SIZE_RULES[issue.origin];
      const length = has && (typeof input === "string" || Array.isArray(input))
        ? input.length
        : undefined;
      if (sizes) {
        const rule = big ? sizes[0] : sizes[1];
        const gotSize = length === undefined ? "" : ` (got ${length.toLocaleString("en-US")})`;
        return {
          field,
          rule,
          limit,
          message: `must have at ${big ? "most" : "least"} ${plural(limit, sizes[2])}${gotSize}`,
        };
      }
      const strict = issue.inclusive === false;
      const relation = big ? (strict ? "below" : "at most") : (strict ? "above" : "at least");
      return {
        field,
        rule: big ? "maximum" : "minimum",
        limit,
        message: `must be ${relation} ${limit.toLocaleString("en-US")}${
          has && typeof input === "number" ? ` (got ${input})` : ""
        }`,
      };
    }
    case "invalid_format": {
      const pattern = issue.format === "regex";
      const custom = !issue.message.startsWith("Invalid");
      const words = custom
        ? issue.message
        : pattern
        ? `must match ${issue.pattern}`
        : `must be a valid ${issue.format}`;
      return { field, rule: pattern ? "pattern" : "format", message: `${words}${got}` };
    }
    case "invalid_value":
      return {
        field,
        rule: "enum",
        limit: issue.values,
        message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${got}`,
      };
    case "unrecognized_keys": {
      // One detail for the first; the rest are named in the message.
      const [first, ...rest] = issue.keys;
      return {
        field: base ? `${base}.${first}` : first,
        rule: "unknown_field",
        message: `is not a known field${
          rest.length ? ` (nor ${rest.slice(0, 10).join(", ")})` : ""
        }`,
      };
    }
    case "not_multiple_of":
      return {
        field,
        rule: "multiple_of",
        limit: issue.divisor,
        message: `must be a multiple of ${issue.divisor}`,
      };
    case "custom": {
      const params = (issue.params ?? {}) as { rule?: string; limit?: unknown };
      return {
        field,
        rule: params.rule ?? "invalid",
        ...(params.limit !== undefined ? { limit: params.limit } : {}),
        message: issue.message,
      };
    }
    default:
      return { field, rule: "invalid", message: issue.message };
  }
}

/**
 * Validates `value` against `schema`.
 * @throws HttpError 422 with one detail per bad field (`what` names the input, e.g. "body").
 */
export function validate<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what = "body",
): z.infer<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw validationError(result.error.issues.map((issue) => describeIssue(issue)), what);
}

/** A 422 listing `details` (at most 100), with the first problems in the message. */
export function validationError(details: ErrorDetail[], what = "body"): HttpError {
  const count = details.length;
  const listed = count > MAX_DETAILS ? ` (first ${MAX_DETAILS} listed)` : "";
  const first = details.slice(0, 3).map((detail) => `${detail.field} ${detail.message}`)
    .join("; ");
  return new HttpError(
    422,
    "validation_failed",
    `Request ${what} is invalid: ${count} problem${count === 1 ? "" : "s"}${listed}: ${first}${
      count > 3 ? "; …" : ""
    }`,
    details.slice(0, MAX_DETAILS),
  );
}
