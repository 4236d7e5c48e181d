import assert from "node:assert/strict";
import { Hono } from "hono";
import { HttpError } from "@outpost/platform/http_error";
import { errorHandler } from "@outpost/platform/http_middleware";
import { createLogger } from "@outpost/platform/log";
import { gateRequests, WorkGate } from "./work_gate.ts";

/** A promise and its resolver. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("WorkGate runs work up to its byte capacity and queues the rest in order", async () => {
  const gate = new WorkGate({ capacity: 10, queue: 10, what: "writes" });
  const order: string[] = [];
  const holds = [deferred(), deferred(), deferred()];
  const a = gate.run(6, async () => {
    order.push("a");
    await holds[0].promise;
  });
  const b = gate.run(6, async () => {
    order.push("b");
    await holds[1].promise;
  });
  // Small enough to fit beside a, but b waits first: nobody overtakes.
  const c = gate.run(1, async () => {
    order.push("c");
    await holds[2].promise;
  });
  await tick();
  assert.deepEqual(order, ["a"]);
  assert.equal(gate.running, 1);
  assert.equal(gate.waiting, 2);
  holds[0].resolve();
  await a;
  await tick();
  assert.deepEqual(order, ["a", "b", "c"], "b then c start once a is done");
  assert.equal(gate.used, 7);
  holds[1].resolve();
  holds[2].resolve();
  await Promise.all([b, c]);
  assert.equal(gate.running, 0);
  assert.equal(gate.used, 0);
});

Deno.test("WorkGate lets a request heavier than its capacity run alone", async () => {
  const gate = new WorkGate({ capacity: 10, queue: 1, what: "writes" });
  assert.equal(await gate.run(1_000, () => Promise.resolve("done")), "done");
  assert.equal(gate.used, 0);
});

Deno.test("WorkGate refuses with 503 busy once its queue is full, and frees slots on failure", async () => {
  let refused = 0;
  const gate = new WorkGate({ capacity: 1, queue: 1, what: "writes", onRefused: () => refused++ });
  const hold = deferred();
  const first = gate.run(1, () => hold.promise);
  const second = gate.run(1, () => Promise.reject(new Error("boom")));
  await assert.rejects(gate.run(1, () => Promise.resolve()), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 503);
    assert.equal(error.code, "busy");
    assert.match(error.message, /Too many writes at once \(1 in progress, 1 waiting\)/);
    return true;
  });
  assert.equal(refused, 1);
  hold.resolve();
  await first;
  await assert.rejects(second, /boom/);
  assert.equal(gate.running, 0);
  assert.equal(await gate.run(1, () => Promise.resolve(7)), 7, "usable after a failure");
});

Deno.test("gateRequests holds a POST before its body is read and answers 503 with Retry-After", async () => {
  const gate = new WorkGate({ capacity: 100, queue: 0, what: "writes" });
  const app = new Hono();
  app.onError(errorHandler(createLogger({ write: () => {} })));
  const release = deferred();
  let bodiesRead = 0;
  app.use("*", gateRequests(gate, ["POST"], 1000));
  app.post("/w", async (c) => {
    await c.req.text();
    bodiesRead++;
    await release.promise;
    return c.json({ ok: true }, 201);
  });
  app.get("/r", (c) => c.json({ ok: true }));
  // No Content-Length would weigh the maximum (1000): over the capacity, so it runs alone.
  const first = app.request("http://x/w", { method: "POST", body: "x" });
  await tick();
  assert.equal(gate.running, 1);
  const busy = await app.request("http://x/w", {
    method: "POST",
    body: "y",
    headers: { "content-length": "1" },
  });
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  assert.equal((await busy.json()).error.code, "busy");
  assert.equal(bodiesRead, 1, "the refused request's body was never read");
  assert.equal((await app.request("http://x/r")).status, 200, "reads are not gated");
  release.resolve();
  assert.equal((await first).status, 201);
  assert.equal(gate.running, 0);
});
