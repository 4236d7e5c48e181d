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

/** Reads a request's JSON body, enforcing content type and size. */
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

/** Lists zod issues as envelope details, one per bad field. */
export function zodDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.slice(0, MAX_DETAILS).map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join(".") : "(body)",
    message: issue.message,
  }));
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
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const count = result.error.issues.length;
  const listed = count > MAX_DETAILS ? ` (first ${MAX_DETAILS} listed)` : "";
  throw new HttpError(
    422,
    "validation_failed",
    `Request ${what} is invalid: ${count} problem${count === 1 ? "" : "s"}${listed}`,
    zodDetails(result.error),
  );
}
