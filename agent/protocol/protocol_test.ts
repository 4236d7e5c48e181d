import assert from "node:assert/strict";
import {
  Batch,
  brokerUrls,
  decodeMessage,
  deviceMayPublish,
  deviceMaySubscribe,
  EnrollResponse,
  Hello,
  isTraceparent,
  MAX_MESSAGE_BYTES,
  parseTopic,
  readTraceparent,
  topics,
  traceSampled,
  withTraceparent,
} from "./mod.ts";

const reading = (seq: number) => ({
  seq,
  type: "reading",
  sensor: "t",
  value: seq,
  unit: "C",
  ts: "2026-11-26T00:00:00.000Z",
});

Deno.test("topic builders and parseTopic agree", () => {
  assert.equal(topics.batch("dev-1"), "outpost/v1/dev-1/up/batch");
  assert.equal(topics.sharedUplink("g"), "$share/g/outpost/v1/+/up/#");
  for (
    const topic of [
      topics.batch("a"),
      topics.status("a"),
      topics.hello("a"),
      topics.ack("a"),
      topics.desired("a"),
      topics.command("a"),
    ]
  ) {
    assert.equal(parseTopic(topic)?.deviceId, "a");
  }
  assert.equal(parseTopic("outpost/v1/a/up/other"), undefined);
  assert.equal(parseTopic("outpost/v2/a/up/batch"), undefined);
  assert.equal(parseTopic("outpost/v1/a/b/up/batch"), undefined);
});

Deno.test("topic builders refuse device ids that would break the topic tree", () => {
  for (const bad of ["a/b", "+", "#", "", "../x", "a b"]) {
    assert.throws(() => topics.batch(bad), /Invalid device id/);
  }
});

Deno.test("the ACL lets a device publish only under its own up/ and read only its own down/", () => {
  assert.ok(deviceMayPublish("a", topics.batch("a")));
  assert.ok(deviceMayPublish("a", topics.status("a")));
  assert.ok(deviceMayPublish("a", topics.hello("a")));
  assert.ok(!deviceMayPublish("a", topics.hello("b")));
  assert.ok(!deviceMaySubscribe("a", topics.hello("a")));
  assert.ok(!deviceMayPublish("a", topics.batch("b")));
  assert.ok(!deviceMayPublish("a", topics.ack("a")));
  assert.ok(!deviceMayPublish("a", "outpost/v1/+/up/batch"));
  assert.ok(deviceMaySubscribe("a", topics.deviceDownlink("a")));
  assert.ok(deviceMaySubscribe("a", topics.desired("a")));
  assert.ok(deviceMaySubscribe("a", "outpost/v1/a/down/+"));
  assert.ok(!deviceMaySubscribe("a", topics.deviceDownlink("b")));
  assert.ok(!deviceMaySubscribe("a", "outpost/v1/+/down/#"));
  assert.ok(!deviceMaySubscribe("a", "#"));
  assert.ok(!deviceMaySubscribe("a", topics.deviceUplink("a")));
});

Deno.test("a batch must hold exactly the records of its range, in order", () => {
  assert.ok(
    Batch.safeParse({ from: 3, to: 5, records: [reading(3), reading(4), reading(5)] }).success,
  );
  const lies = [
    { from: 3, to: 6, records: [reading(3), reading(4), reading(5)] },
    { from: 3, to: 5, records: [reading(3), reading(5), reading(4)] },
    { from: 3, to: 5, records: [reading(3), reading(4), reading(4)] },
    { from: 0, to: 0, records: [reading(0)] },
    { from: 1, to: 1, records: [] },
    { from: 1, to: 1, records: [{ ...reading(1), type: "bogus" }] },
  ];
  for (const batch of lies) assert.ok(!Batch.safeParse(batch).success, JSON.stringify(batch));
});

Deno.test("decodeMessage rejects bad JSON, bad UTF-8, schema violations and oversized payloads", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  assert.equal(
    decodeMessage(Batch, encode('{"from":1,"to":1,"records":[' + JSON.stringify(reading(1)) + "]}"))
      .ok,
    true,
  );
  const cases = [
    encode("{not json"),
    new Uint8Array([0x7b, 0xff, 0x7d]),
    encode('{"from":1}'),
    new Uint8Array(MAX_MESSAGE_BYTES + 1),
  ];
  for (const payload of cases) {
    const result = decodeMessage(Batch, payload);
    assert.equal(result.ok, false);
    if (!result.ok) assert.ok(result.error.length > 0);
  }
});

Deno.test("an enrollment response without protocolVersion defaults to MQTT 5", () => {
  const parsed = EnrollResponse.parse({
    deviceId: "a",
    mqtt: { url: "mqtt://x", username: "a", password: "p" },
  });
  assert.equal(parsed.mqtt.protocolVersion, 5);
});

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

Deno.test("a record and a batch may carry a traceparent; a malformed one is rejected", () => {
  const record = { ...reading(1), traceparent: TRACEPARENT };
  const parsed = Batch.parse({ from: 1, to: 1, traceparent: TRACEPARENT, records: [record] });
  assert.equal(parsed.traceparent, TRACEPARENT);
  assert.equal(parsed.records[0].traceparent, TRACEPARENT);
  assert.ok(Batch.safeParse({ from: 1, to: 1, records: [reading(1)] }).success);
  for (
    const bad of [
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
      "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ]
  ) {
    assert.ok(!isTraceparent(bad), bad);
    const batch = { from: 1, to: 1, records: [{ ...reading(1), traceparent: bad }] };
    assert.ok(!Batch.safeParse(batch).success, bad);
  }
});

Deno.test("withTraceparent and readTraceparent round-trip a record's JSON text", () => {
  const json = JSON.stringify({ type: "event", id: "e", data: { traceparent: TRACEPARENT } });
  assert.equal(withTraceparent(json, undefined), json);
  assert.equal(readTraceparent(json), undefined, "a data key of that name is not the record's");
  const traced = withTraceparent(json, TRACEPARENT);
  assert.equal(JSON.parse(traced).traceparent, TRACEPARENT);
  assert.equal(readTraceparent(traced), TRACEPARENT);
  assert.ok(traceSampled(TRACEPARENT));
  assert.ok(!traceSampled(TRACEPARENT.slice(0, -2) + "00"));
});

Deno.test("a reported record answers one desired version, and an old agent's record still decodes", () => {
  const old = {
    from: 1,
    to: 1,
    records: [{
      seq: 1,
      type: "reported",
      appliedVersion: 3,
      reported: { desiredVersion: 3 },
      ts: "2026-11-26T00:00:00.000Z",
    }],
  };
  assert.ok(decodeMessage(Batch, JSON.stringify(old)).ok);
  const failed = {
    ...old,
    records: [{
      ...old.records[0],
      appliedVersion: 2,
      version: 3,
      outcome: "failed",
      reason: "retentionDays must be an integer from 1 to 3650; got -1",
    }],
  };
  const decoded = decodeMessage(Batch, JSON.stringify(failed));
  assert.ok(decoded.ok);
  const bad = { ...old, records: [{ ...old.records[0], version: 3, outcome: "maybe" }] };
  assert.ok(!decodeMessage(Batch, JSON.stringify(bad)).ok);
});

Deno.test("up/hello is an uplink kind of its own, under the device's up/ subtree", () => {
  assert.equal(topics.hello("dev-1"), "outpost/v1/dev-1/up/hello");
  assert.deepEqual(parseTopic(topics.hello("dev-1")), {
    deviceId: "dev-1",
    direction: "up",
    kind: "hello",
  });
  assert.equal(parseTopic("outpost/v1/dev-1/down/hello"), undefined);
});

Deno.test("a hello carries the agent's outbox position; a later v with more fields still decodes", () => {
  const hello = { v: 1, agentVersion: "1.2.3", outbox: { head: 10, acked: 7 }, desiredVersion: 2 };
  assert.deepEqual(decodeMessage(Hello, JSON.stringify(hello)), { ok: true, value: hello });
  const minimal = { v: 1, agentVersion: "1.2.3", outbox: { head: 0 } };
  assert.ok(Hello.safeParse(minimal).success);
  const later = { ...hello, v: 2, bootId: "x", outbox: { head: 10, acked: 7, oldest: 3 } };
  assert.equal(Hello.parse(later).outbox.head, 10);
  for (
    const bad of [
      { ...hello, v: 0 },
      { ...hello, outbox: { head: -1 } },
      { ...hello, outbox: { head: 1.5 } },
      { ...hello, outbox: undefined },
      { ...hello, agentVersion: "x".repeat(65) },
      { ...hello, desiredVersion: -1 },
    ]
  ) {
    const decoded = decodeMessage(Hello, JSON.stringify(bad));
    assert.equal(decoded.ok, false, JSON.stringify(bad));
    if (!decoded.ok) assert.equal(decoded.reason, "schema");
  }
});

Deno.test("an enrollment answer lists every broker URL; one without the list still gives its url", () => {
  const old = EnrollResponse.parse({
    deviceId: "a",
    mqtt: { url: "mqtts://n1:8883", username: "a", password: "p", protocolVersion: 4 },
  });
  assert.deepEqual(brokerUrls(old.mqtt), ["mqtts://n1:8883"]);
  const urls = ["mqtts://n1:8883", "mqtts://n2:8883"];
  const current = EnrollResponse.parse({
    deviceId: "a",
    mqtt: { url: urls[0], urls, username: "a", password: "p", protocolVersion: 4 },
  });
  assert.deepEqual(brokerUrls(current.mqtt), urls);
  assert.ok(
    !EnrollResponse.safeParse({
      deviceId: "a",
      mqtt: { url: urls[0], urls: [], username: "a", password: "p" },
    }).success,
  );
});

Deno.test("an enrollment answer's downlink QoS: 1 when absent (older clouds, stored credentials), 0 or 1 when given", () => {
  const mqtt = { url: "mqtt://n1:1883", username: "a", password: "p", protocolVersion: 4 };
  assert.equal(EnrollResponse.parse({ deviceId: "a", mqtt }).mqtt.downlinkQos, 1);
  assert.equal(
    EnrollResponse.parse({ deviceId: "a", mqtt: { ...mqtt, downlinkQos: 0 } }).mqtt.downlinkQos,
    0,
  );
  assert.ok(
    !EnrollResponse.safeParse({ deviceId: "a", mqtt: { ...mqtt, downlinkQos: 2 } }).success,
    "QoS 2 is never asked for",
  );
});
