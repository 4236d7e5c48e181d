import assert from "node:assert/strict";
import { createRng } from "../rng.ts";
import { Locks, planFaults } from "./scheduler.ts";
import { FAULT_KINDS } from "./types.ts";

Deno.test("Locks let faults on different things overlap and serialize faults on one thing", async () => {
  const locks = new Locks();
  const events: string[] = [];
  const hold = async (name: string, keys: string[], ms: number) => {
    const release = await locks.acquire(keys);
    events.push(`${name}+`);
    await new Promise((resolve) => setTimeout(resolve, ms));
    events.push(`${name}-`);
    release();
  };
  await Promise.all([
    hold("a", ["agent:0"], 30),
    hold("b", ["agent:1"], 5),
    hold("c", ["agent:0", "cloud"], 5),
  ]);
  // b ran inside a; c waited for a to end.
  assert.deepEqual(events, ["a+", "b+", "b-", "a-", "c+", "c-"]);
});

Deno.test("the plan has exactly the asked counts of each kind, in an order the seed decides", () => {
  const counts = Object.fromEntries(FAULT_KINDS.map((kind, i) => [kind, i + 1])) as Record<
    typeof FAULT_KINDS[number],
    number
  >;
  const agents = [{ index: 0, deviceId: "a0" }, { index: 1, deviceId: "a1" }];
  const plan = planFaults(counts, agents, createRng(5));
  for (const kind of FAULT_KINDS) {
    assert.equal(plan.filter((f) => f.kind === kind).length, counts[kind], kind);
  }
  const again = planFaults(counts, agents, createRng(5));
  assert.deepEqual(
    plan.map((f) => `${f.kind}:${f.target}`),
    again.map((f) => `${f.kind}:${f.target}`),
  );
  const other = planFaults(counts, agents, createRng(6));
  assert.notDeepEqual(plan.map((f) => f.kind), other.map((f) => f.kind));
});
