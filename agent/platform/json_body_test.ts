import assert from "node:assert/strict";
import { z } from "zod";
import { readJsonBody, validate } from "./json_body.ts";
import { HttpError } from "./http_error.ts";

function post(body: BodyInit, type = "application/json", headers: Record<string, string> = {}) {
  return new Request("http://x/", {
    method: "POST",
    body,
    headers: { "content-type": type, ...headers },
  });
}

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    assert.ok(error instanceof HttpError, String(error));
    return error.status;
  }
}

Deno.test("readJsonBody parses JSON with a JSON content type, including +json and charset", async () => {
  assert.deepEqual(await readJsonBody(post('{"a":1}')), { a: 1 });
  assert.deepEqual(await readJsonBody(post("[1]", "application/vnd.x+json; charset=utf-8")), [1]);
});

Deno.test("readJsonBody maps bad bodies to 415, 413 and 400", async () => {
  assert.equal(await status(readJsonBody(post("{}", "text/plain"))), 415);
  assert.equal(await status(readJsonBody(post("{}", "application/jsonx"))), 415);
  assert.equal(await status(readJsonBody(post("x".repeat(2000)), 1000)), 413);
  assert.equal(
    await status(readJsonBody(post("{}", "application/json", { "content-length": "5000" }), 1000)),
    413,
  );
  assert.equal(await status(readJsonBody(post("{bad"))), 400);
  assert.equal(await status(readJsonBody(post(""))), 400);
  assert.equal(await status(readJsonBody(post(new Uint8Array([0x22, 0xff, 0x22])))), 400);
});

Deno.test("readJsonBody refuses a body of more JSON values than any valid one, before parsing it", async () => {
  const tiny = `[${Array(300_000).fill("{}").join(",")}]`;
  const error = await readJsonBody(post(tiny)).catch((error) => error);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 413);
  assert.equal(error.code, "payload_too_large");
  assert.match(error.message, /more than 200,000 JSON values/);
});

Deno.test("readJsonBody counts streamed bytes, not only the declared length", async () => {
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("[1,2,3,4,5]"));
      controller.close();
    },
  });
  const request = new Request("http://x/", {
    method: "POST",
    body: stream,
    headers: { "content-type": "application/json" },
  });
  assert.equal(await status(readJsonBody(request, 50)), 413);
});

Deno.test("validate returns parsed data or a 422 naming each bad field", () => {
  const schema = z.object({ a: z.number(), b: z.object({ c: z.string() }) });
  assert.deepEqual(validate(schema, { a: 1, b: { c: "x" } }), { a: 1, b: { c: "x" } });
  assert.throws(() => validate(schema, { a: "1", b: { c: 2 } }), (error: HttpError) => {
    assert.equal(error.status, 422);
    assert.deepEqual(error.details?.map((d) => d.field), ["a", "b.c"]);
    assert.match(error.message, /2 problems/);
    return true;
  });
});

Deno.test("a body the client stops sending midway is 400 incomplete_body, not a 500", async () => {
  // Regression (chaos fuzzer): a lying Content-Length and a half-closed socket made the body
  // stream fail, and the server answered (and logged) 500 as if it were our own failure.
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"sensor":'));
      controller.error(new Error("connection closed before the body was complete"));
    },
  });
  try {
    await readJsonBody(post(body));
    assert.fail("a broken body was read");
  } catch (error) {
    assert.ok(error instanceof HttpError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.code, "incomplete_body");
    assert.match(error.message, /could not be read to the end: connection closed/);
  }
});
