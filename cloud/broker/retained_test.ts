import assert from "node:assert/strict";
import { Readable } from "node:stream";
import {
  bucketOfFilter,
  indexRetained,
  RetainedIndex,
  type RetainedPersistence,
  topicMatches,
} from "./retained.ts";

Deno.test("topicMatches follows MQTT wildcards", () => {
  assert.ok(topicMatches("outpost/v1/pi-a/down/#", "outpost/v1/pi-a/down/desired"));
  assert.ok(topicMatches("outpost/v1/pi-a/down/#", "outpost/v1/pi-a/down"));
  assert.ok(!topicMatches("outpost/v1/pi-a/down/#", "outpost/v1/pi-ab/down/desired"));
  assert.ok(topicMatches("outpost/v1/+/up/#", "outpost/v1/pi-a/up/status"));
  assert.ok(!topicMatches("outpost/v1/+/up/status", "outpost/v1/pi-a/up/status/x"));
  assert.ok(topicMatches("a/b", "a/b"));
  assert.ok(!topicMatches("a/b", "a/b/c"));
  assert.ok(topicMatches("#", "a/b/c"));
  assert.ok(!topicMatches("#", "$SYS/broker/x"));
  assert.ok(!topicMatches("+/broker/x", "$SYS/broker/x"));
  assert.ok(topicMatches("$SYS/#", "$SYS/broker/x"));
});

Deno.test("bucketOfFilter names a bucket only when the first levels are literal", () => {
  assert.equal(bucketOfFilter("outpost/v1/pi-a/down/#"), "outpost/v1/pi-a");
  assert.equal(bucketOfFilter("outpost/v1/pi-a"), "outpost/v1/pi-a");
  assert.equal(bucketOfFilter("a/b"), "a/b");
  assert.equal(bucketOfFilter("outpost/v1/+/up/#"), undefined);
  assert.equal(bucketOfFilter("outpost/#"), undefined);
  assert.equal(bucketOfFilter("#"), undefined);
});

function packet(topic: string, payload = "x") {
  return { topic, payload: new TextEncoder().encode(payload) };
}

Deno.test("RetainedIndex answers device filters from their bucket and others by scanning", () => {
  const index = new RetainedIndex();
  for (const id of ["pi-a", "pi-b"]) {
    index.store(packet(`outpost/v1/${id}/up/status`, id));
    index.store(packet(`outpost/v1/${id}/down/desired`, id));
  }
  index.store(packet("outpost/v1/pi-a/down", "parent")); // `down/#` matches its parent level
  index.store(packet("outpost/v1/pi-a", "same bucket, not matched"));
  index.store(packet("other"));
  const topicsOf = (filter: string) => [...index.match(filter)].map((p) => p.topic).sort();
  assert.deepEqual(topicsOf("outpost/v1/pi-a/down/#"), [
    "outpost/v1/pi-a/down",
    "outpost/v1/pi-a/down/desired",
  ]);
  assert.deepEqual(topicsOf("outpost/v1/+/up/#"), [
    "outpost/v1/pi-a/up/status",
    "outpost/v1/pi-b/up/status",
  ]);
  assert.deepEqual(topicsOf("other"), ["other"]);
  assert.deepEqual(topicsOf("outpost/v1/pi-c/down/#"), []);
  assert.equal(topicsOf("#").length, 7);
  // Replacing keeps one message per topic; an empty payload deletes it.
  index.store(packet("outpost/v1/pi-a/down/desired", "v2"));
  assert.equal(index.size, 7);
  const [desired] = index.match("outpost/v1/pi-a/down/desired");
  assert.equal(new TextDecoder().decode(desired.payload as Uint8Array), "v2");
  index.store(packet("outpost/v1/pi-a/down/desired", ""));
  assert.deepEqual(topicsOf("outpost/v1/pi-a/down/#"), ["outpost/v1/pi-a/down"]);
  assert.deepEqual(
    [...index.matchAll(["outpost/v1/pi-b/down/#", "other"])].map((p) => p.topic),
    ["outpost/v1/pi-b/down/desired", "other"],
  );
});

Deno.test("indexRetained replaces the persistence's retained methods", async () => {
  const persistence = {
    storeRetained: () => Promise.reject(new Error("original called")),
    createRetainedStream: () => Readable.from([]),
    createRetainedStreamCombi: () => Readable.from([]),
  } as RetainedPersistence;
  indexRetained(persistence);
  await persistence.storeRetained(packet("outpost/v1/pi-a/down/desired"));
  await new Promise<void>((resolve, reject) =>
    persistence.storeRetained(
      packet("outpost/v1/pi-b/down/desired"),
      (e) => e ? reject(e) : resolve(),
    )
  );
  const read = async (stream: Readable) => (await stream.toArray()).map((p) => p.topic);
  assert.deepEqual(await read(persistence.createRetainedStream("outpost/v1/pi-a/down/#")), [
    "outpost/v1/pi-a/down/desired",
  ]);
  assert.deepEqual(
    await read(persistence.createRetainedStreamCombi(["outpost/v1/+/down/#"])),
    ["outpost/v1/pi-a/down/desired", "outpost/v1/pi-b/down/desired"],
  );
});
