import assert from "node:assert/strict";
import { checkDevice, type StoredSide } from "./checker.ts";
import type { WriteEntry } from "./workload.ts";

function readings(first: number, count: number, outcome: WriteEntry["outcome"]): WriteEntry {
  return { agent: "d", kind: "readings", first, count, outcome, start: 0, end: 0, by: "t" };
}

function event(n: number, outcome: WriteEntry["outcome"]): WriteEntry {
  return {
    agent: "d",
    kind: "event",
    first: n,
    count: 1,
    message: `m${n}`,
    outcome,
    start: 0,
    end: 0,
    by: "t",
  };
}

/** A side holding readings with the given values at seqs 1, 2, … and then events. */
function side(values: number[], events: number[] = []): StoredSide {
  const records = new Map<number, string>();
  const texts = new Map<number, { id: string; message: string }>();
  let seq = 0;
  for (const value of values) records.set(++seq, `reading:chaos:${value}`);
  for (const n of events) {
    records.set(++seq, `event:id${n}`);
    texts.set(seq, { id: `id${n}`, message: `m${n}` });
  }
  return { records, duplicateSeqs: [], events: texts };
}

const clean = { lost: 0, duplicated: 0, phantom: 0, rejectedStored: 0, lostLocally: 0 };

function violations(verdict: ReturnType<typeof checkDevice>) {
  const { lost, duplicated, phantom, rejectedStored, lostLocally } = verdict;
  return { lost, duplicated, phantom, rejectedStored, lostLocally };
}

Deno.test("a history fully stored once on both sides has no violations", () => {
  const history = [readings(1, 3, "acknowledged"), event(4, "acknowledged")];
  const verdict = checkDevice("d", history, side([1, 2, 3], [4]), side([1, 2, 3], [4]));
  assert.deepEqual(violations(verdict), clean);
  assert.equal(verdict.checked, 4);
  assert.equal(verdict.cloudRecords, 4);
});

Deno.test("an acknowledged write missing from the cloud is lost, and from the agent lost locally", () => {
  const history = [readings(1, 3, "acknowledged")];
  const verdict = checkDevice("d", history, side([1, 2]), side([1, 2]));
  assert.equal(verdict.lost, 1);
  assert.equal(verdict.lostLocally, 1);
  assert.match(verdict.examples.join("\n"), /reading:chaos:3/);
});

Deno.test("a record the agent holds but the cloud lacks is lost even when it was unanswered", () => {
  const history = [readings(1, 2, "unanswered")];
  const verdict = checkDevice("d", history, side([1, 2]), side([1]));
  assert.equal(verdict.lost, 1);
  assert.equal(verdict.unacknowledgedCommitted, 1);
});

Deno.test("an unanswered write stored everywhere is counted as committed, not as a violation", () => {
  const history = [readings(1, 1, "acknowledged"), event(2, "unanswered")];
  const verdict = checkDevice("d", history, side([1], [2]), side([1], [2]));
  assert.deepEqual(violations(verdict), clean);
  assert.equal(verdict.unacknowledgedCommitted, 1);
});

Deno.test("one write stored at two seqs is duplicated", () => {
  const history = [readings(1, 2, "acknowledged")];
  const verdict = checkDevice("d", history, side([1, 2]), side([1, 2, 2]));
  // seq 3 in the cloud is also absent from the agent: a phantom too.
  assert.equal(verdict.duplicated, 1);
  assert.equal(verdict.phantom, 1);
});

Deno.test("a cloud record the workload never wrote, or unlike the agent's at that seq, is a phantom", () => {
  const history = [readings(1, 2, "acknowledged")];
  const agent = side([1, 2]);
  const cloud = side([1, 2]);
  cloud.records.set(2, "reading:chaos:99");
  const verdict = checkDevice("d", history, agent, cloud);
  assert.equal(verdict.phantom, 1);
  assert.equal(verdict.lost, 1, "value 2 is nowhere in the cloud");
});

Deno.test("a rejected write that is stored anyway is a violation of its own", () => {
  const history = [readings(1, 1, "acknowledged"), readings(2, 1, "rejected")];
  const verdict = checkDevice("d", history, side([1, 2]), side([1, 2]));
  assert.equal(verdict.rejectedStored, 1);
});

Deno.test("writes of other devices in the history are ignored", () => {
  const other = { ...readings(1, 5, "acknowledged"), agent: "other" };
  const verdict = checkDevice("d", [other], side([]), side([]));
  assert.deepEqual(violations(verdict), clean);
  assert.equal(verdict.checked, 0);
});
