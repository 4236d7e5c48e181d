import assert from "node:assert/strict";
import { spawnProcess } from "../support/process.ts";
import { Component, type ExitReport } from "./component.ts";

/** A component whose readiness never comes (as a cloud that died before its `/readyz`). */
function dying(script: string, exits: ExitReport[]): Component {
  return new Component({
    name: "dying",
    url: "http://127.0.0.1:9",
    launch: () => spawnProcess("sh", ["-c", script]),
    ready: () => new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 30_000)),
    direct: true,
    onExit: (report) => exits.push(report),
  });
}

Deno.test("a start whose process kills itself on purpose returns at once; the exit is reported as injected", async () => {
  // Regression (chaos --broker=nats, seed 1383306439): an armed cloud killed itself 100 ms after
  // its start; the fault waited 60 s for its /readyz while holding the lock its restart needed.
  const exits: ExitReport[] = [];
  const component = dying("echo 'fault injection: killing the cloud'; kill -9 $$", exits);
  const started = performance.now();
  await component.start();
  assert.ok(performance.now() - started < 10_000, "returned before the readiness timeout");
  assert.equal(component.running, false);
  assert.equal(exits.length, 1);
  assert.equal(exits[0].injected, true);
});

Deno.test("a start whose process crashes fails at once, naming it and its last lines", async () => {
  const exits: ExitReport[] = [];
  const component = dying("echo 'boom at start'; exit 3", exits);
  const started = performance.now();
  await assert.rejects(component.start(), /dying exited during its start:\n.*boom at start/s);
  assert.ok(performance.now() - started < 10_000);
  assert.equal(exits.length, 1);
  assert.equal(exits[0].injected, false);
  assert.equal(exits[0].status.code, 3);
});
