import assert from "node:assert/strict";
import { HttpError } from "@outpost/platform/http_error";
import { readFormBody } from "./form_body.ts";

function post(body: string, type = "application/x-www-form-urlencoded"): Request {
  return new Request("http://x/", { method: "POST", headers: { "content-type": type }, body });
}

Deno.test("readFormBody decodes fields and keeps the first of repeated ones", async () => {
  assert.deepEqual(
    await readFormBody(post("kind=door.open&message=a+b%26c&kind=second")),
    { kind: "door.open", message: "a b&c" },
  );
  assert.deepEqual(
    await readFormBody(post("a=1", "application/x-www-form-urlencoded; charset=UTF-8")),
    { a: "1" },
  );
});

Deno.test("readFormBody answers 415 for other content types and 413 for big bodies", async () => {
  await assert.rejects(
    () => readFormBody(post('{"a":1}', "application/json")),
    (error: unknown) => error instanceof HttpError && error.status === 415,
  );
  await assert.rejects(
    () => readFormBody(new Request("http://x/", { method: "POST", body: "a=1" })),
    (error: unknown) => error instanceof HttpError && error.status === 415,
  );
  await assert.rejects(
    () => readFormBody(post(`a=${"x".repeat(100)}`), 50),
    (error: unknown) => error instanceof HttpError && error.status === 413,
  );
});

Deno.test("readFormBody answers 400 incomplete_body when the client stops sending midway", async () => {
  // Regression (chaos fuzzer): a half-sent form body was a 500 logged as a server failure.
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("kind=door"));
      controller.error(new Error("connection reset"));
    },
  });
  const request = new Request("http://x/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  await assert.rejects(
    () => readFormBody(request),
    (error: unknown) =>
      error instanceof HttpError && error.status === 400 && error.code === "incomplete_body",
  );
});
