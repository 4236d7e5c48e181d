/**
 * Reading HTML form posts (`application/x-www-form-urlencoded`) with the error envelope's
 * statuses: 415 for another content type, 413 when too large.
 * @module
 */
import { HttpError } from "@outpost/platform/http_error";
import { incompleteBody } from "@outpost/platform/json_body";

/** Forms here are a few fields; anything bigger is not one of ours. */
export const MAX_FORM_BYTES = 64 * 1024;

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;

/** The posted fields; a repeated field keeps its first value. */
export async function readFormBody(
  request: Request,
  maxBytes = MAX_FORM_BYTES,
): Promise<Record<string, string>> {
  const type = request.headers.get("content-type") ?? "";
  if (!FORM_TYPE.test(type)) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `Expected Content-Type application/x-www-form-urlencoded; got '${
        type.slice(0, 100) || "(none)"
      }'`,
    );
  }
  const tooLarge = () =>
    new HttpError(413, "payload_too_large", `Form body exceeds ${maxBytes} bytes`);
  if (Number(request.headers.get("content-length") ?? "0") > maxBytes) throw tooLarge();
  let text: string;
  try {
    text = await request.text();
  } catch (error) {
    throw incompleteBody(error); // the client hung up mid-body: a 400, not our 500
  }
  if (new TextEncoder().encode(text).byteLength > maxBytes) throw tooLarge();
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (!Object.hasOwn(fields, name)) fields[name] = value;
  }
  return fields;
}
