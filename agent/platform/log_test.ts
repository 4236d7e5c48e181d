import assert from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("logger writes one JSON line per event with level, msg and fields", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  log.info("agent started", { port: 8000 });
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]);
  assert.equal(record.level, "info");
  assert.equal(record.msg, "agent started");
  assert.equal(record.port, 8000);
  assert.ok(!Number.isNaN(Date.parse(record.ts)));
});

Deno.test("logger drops lines below its level and follows setLevel", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "warn", write: (line) => lines.push(line) });
  log.info("hidden");
  log.warn("shown");
  log.setLevel("debug");
  log.child({ component: "sync" }).debug("now shown");
  assert.equal(lines.length, 2);
  assert.equal(JSON.parse(lines[1]).component, "sync");
});

Deno.test("logger redacts secret-looking fields, also nested", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  log.info("enrolled", {
    enrollToken: "s3cret-enroll",
    mqtt: { username: "dev1", password: "hunter2" },
    headers: { authorization: "Bearer abc" },
  });
  assert.ok(!lines[0].includes("s3cret-enroll"));
  assert.ok(!lines[0].includes("hunter2"));
  assert.ok(!lines[0].includes("Bearer abc"));
  assert.equal(JSON.parse(lines[0]).mqtt.username, "dev1");
});

Deno.test("logger adds the fields of its context (the active span's ids) to every line", () => {
  const lines: string[] = [];
  const span: { active?: { trace_id: string; span_id: string } } = {};
  const log = createLogger({ write: (line) => lines.push(line), context: () => span.active });
  log.info("outside");
  span.active = { trace_id: "a".repeat(32), span_id: "b".repeat(16) };
  log.child({ part: "sync" }).info("inside");
  assert.equal(JSON.parse(lines[0]).trace_id, undefined);
  assert.equal(JSON.parse(lines[1]).trace_id, "a".repeat(32));
  assert.equal(JSON.parse(lines[1]).span_id, "b".repeat(16));
  assert.equal(JSON.parse(lines[1]).part, "sync");
});
