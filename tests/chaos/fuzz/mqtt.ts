/**
 * The ingest fuzzer: an enrolled but hostile device publishing malformed batches, batches that
 * lie about their seq range, oversized and deeply nested payloads, garbage presence, forged
 * acks and messages to other devices' topics — interleaved with valid batches, whose acks prove
 * the ingest kept working. Records which seqs may legitimately be stored.
 * @module
 */
import { Buffer } from "node:buffer";
import mqtt, { type MqttClient } from "mqtt";
import { MAX_BATCH_RECORDS } from "@outpost/protocol";
import { topics } from "@outpost/protocol";
import { decodeBatch } from "@outpost/cloud/ingest/decode";
import { CHAOS_MAX_SEQ_GAP } from "../cluster.ts";
import type { Rng } from "../rng.ts";
import { corruptText, deepArrayText, hostileValue, type Json, mutateValue } from "./values.ts";

/** Valid seqs run from 1; every hostile batch gets its own range far above them. */
export const HOSTILE_ZONE = 1_000_000_000;

/** The hostile device's secret: it re-enrolls on every reconnect, as itself. */
const HOSTILE_SECRET = "chaos-hostile-device-secret-0123456789abcdef";

/** Totals of the ingest fuzz. */
export interface MqttFuzzResult {
  inputs: number;
  /** Seqs of valid batches the broker acknowledged: these must be stored. */
  expectedSeqs: Set<number>;
  /**
   * Seqs of valid batches the broker did not acknowledge (QoS 0, or the connection dropped):
   * they may be stored or not. Anything outside both sets must not be.
   */
  maybeSeqs: Set<number>;
  /** The start of each acknowledged hostile batch that should be stored, by its first seq. */
  expectedPayloads: Map<number, string>;
  validBatches: number;
  aclProbes: number;
  reconnects: number;
  /** Highest ack seen for the hostile device. */
  lastAck: number;
}

/** Options of {@link fuzzMqtt}. */
export interface MqttFuzzOptions {
  cloudUrl: string;
  enrollToken: string;
  deviceId: string;
  /** Another device whose topics the hostile one tries to write to. */
  victim: string;
  inputs: number;
  rng: Rng;
  progress?: (done: number) => void;
}

function reading(seq: number, ts = "2026-11-26T00:00:00Z"): Json {
  return { seq, type: "reading", sensor: "hostile", value: seq, unit: "", ts };
}

function batchOf(from: number, count: number): { from: number; to: number; records: Json[] } {
  return {
    from,
    to: from + count - 1,
    records: Array.from({ length: count }, (_, i) => reading(from + i)),
  };
}

/**
 * Which seqs of this payload the cloud stores: the ingest's own decoding (a broken envelope
 * stores nothing; a record breaking a field rule is dropped alone) and its seq-gap bound (the
 * hostile device's acked seq stays below the valid seqs, far below the bound's margin).
 */
function storedSeqs(payload: Uint8Array | string): { from: number; seqs: number[] } | undefined {
  // As bytes, like the ingest gets it: the size limit applies to bytes.
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const decoded = decodeBatch(bytes);
  if (!decoded.ok || decoded.value.from > CHAOS_MAX_SEQ_GAP) return undefined;
  return { from: decoded.value.from, seqs: decoded.value.records.map((record) => record.seq) };
}

/**
 * Settles when `operation` does, or after `ms`, or when the connection closes. An MQTT.js
 * QoS 1 publish whose connection the broker closed (an ACL denial) otherwise waits for a
 * reconnect that, with reconnects off, never comes.
 */
function bounded(client: MqttClient, operation: Promise<unknown>, ms = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const closed = () => done(false);
    function done(ok: boolean) {
      clearTimeout(timer);
      client.off("close", closed);
      resolve(ok);
    }
    client.once("close", closed);
    operation.then(() => done(true), () => done(false));
  });
}

async function connect(options: MqttFuzzOptions): Promise<MqttClient> {
  const response = await fetch(`${options.cloudUrl}/api/v1/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      deviceId: options.deviceId,
      token: options.enrollToken,
      deviceSecret: HOSTILE_SECRET,
    }),
  });
  if (!response.ok) throw new Error(`hostile device enrollment failed: ${response.status}`);
  const { mqtt: creds } = await response.json() as {
    mqtt: { url: string; username: string; password: string; protocolVersion: 4 | 5 };
  };
  return await mqtt.connectAsync(creds.url, {
    clientId: options.deviceId,
    username: creds.username,
    password: creds.password,
    protocolVersion: creds.protocolVersion,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
}

/** Runs the ingest fuzz; throws only when the hostile device cannot connect at all. */
export async function fuzzMqtt(options: MqttFuzzOptions): Promise<MqttFuzzResult> {
  const { rng, deviceId } = options;
  const result: MqttFuzzResult = {
    inputs: 0,
    expectedSeqs: new Set(),
    maybeSeqs: new Set(),
    expectedPayloads: new Map(),
    validBatches: 0,
    aclProbes: 0,
    reconnects: 0,
    lastAck: 0,
  };
  let client = await connect(options);
  const watch = async (c: MqttClient) => {
    await c.subscribeAsync(topics.ack(deviceId), { qos: 1 });
    c.on("message", (_topic, payload) => {
      try {
        result.lastAck = Math.max(result.lastAck, JSON.parse(payload.toString()).upTo);
      } catch {
        // the cloud never sends garbage; if it did, the final ack check fails
      }
    });
  };
  await watch(client);
  let nextValid = 1;
  let nextHostile = HOSTILE_ZONE;
  const batchTopic = topics.batch(deviceId);

  /** Publishes; true when the broker acknowledged it (QoS 1 PUBACK). */
  const publish = async (
    topic: string,
    payload: Uint8Array | string,
    qos: 0 | 1 = 1,
  ): Promise<boolean> => {
    result.inputs++;
    if (!client.connected) {
      await client.endAsync(true).catch(() => {});
      client = await connect(options);
      await watch(client);
      result.reconnects++;
    }
    // The broker closes the connection on an ACL denial (MQTT 3.1.1 has no negative PUBACK).
    return qos === 1 && await bounded(
      client,
      client.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), {
        qos,
        retain: rng.chance(0.03),
      }),
    );
  };

  /** A well-behaved device resends until the broker takes the batch. */
  const publishValid = async (payload: string) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await publish(batchTopic, payload)) return;
    }
    throw new Error("the broker did not acknowledge a valid batch in 5 attempts");
  };

  for (let n = 0; result.inputs < options.inputs; n++) {
    if (options.progress && n > 0 && n % 500 === 0) options.progress(n);
    const roll = rng.next();
    if (roll < 0.1) {
      const count = rng.int(1, 30);
      for (let seq = nextValid; seq < nextValid + count; seq++) result.expectedSeqs.add(seq);
      await publishValid(JSON.stringify(batchOf(nextValid, count)));
      nextValid += count;
      result.validBatches++;
      continue;
    }
    // Every hostile batch gets a fresh range, so one that slips through is visible by its seqs.
    const from = nextHostile;
    nextHostile += MAX_BATCH_RECORDS + 10;
    const base = batchOf(from, rng.int(1, 5));
    let payload: Uint8Array | string;
    if (roll < 0.45) {
      try {
        payload = String(JSON.stringify(mutateValue(base as Json, rng)));
      } catch {
        continue; // nested too deep for this process to serialize: draw another input
      }
    } else if (roll < 0.6) {
      payload = rng.pick([
        () => JSON.stringify({ ...base, to: base.to + rng.int(1, 5) }),
        () => JSON.stringify({ ...base, from: base.from - 1 }),
        () => JSON.stringify({ ...base, records: [...base.records].reverse() }),
        () => JSON.stringify({ ...base, records: [...base.records, base.records[0]] }),
        () => JSON.stringify({ from: base.to, to: base.from, records: base.records }),
        () => JSON.stringify({ from: 0, to: 0, records: [reading(0)] }),
        () => JSON.stringify({ from: -1, to: -1, records: [reading(-1)] }),
        () => JSON.stringify({ from: 1.5, to: 1.5, records: [reading(1.5)] }),
        () => JSON.stringify({ from: 2 ** 60, to: 2 ** 60, records: [reading(2 ** 60)] }),
        // Lag poisoning: valid records implausibly far beyond the ack (refused whole).
        () => JSON.stringify(batchOf(9007199254740990, 1)),
        () => JSON.stringify(batchOf(CHAOS_MAX_SEQ_GAP * 10, 2)),
        () => JSON.stringify(batchOf(from, MAX_BATCH_RECORDS + 1)),
        () => JSON.stringify({ from, to: from, records: [] }),
        () =>
          JSON.stringify({
            from,
            to: from,
            records: [{ type: "reading", sensor: "h", value: 1, unit: "", ts: "x" }],
          }),
        () => JSON.stringify({ from, to: from, records: [reading(from, "not a date")] }),
        () =>
          JSON.stringify({
            from,
            to: from,
            records: [{ ...(reading(from) as object), type: "unknown" }],
          }),
      ])();
    } else if (roll < 0.75) {
      payload = corruptText(JSON.stringify(base), rng);
    } else if (roll < 0.8) {
      // Oversized: just over the cloud's 2 MiB limit, or far over it.
      const size = rng.pick([2 * 1024 * 1024 + 1, 3 * 1024 * 1024]);
      payload = new Uint8Array(size).fill(0x7b);
    } else if (roll < 0.85) {
      // Big but within limits: a huge event, deeply nested data. Valid, so it may be stored.
      // Written as text: JSON.stringify itself overflows on arrays nested this deep.
      const data = rng.chance(0.5)
        ? `{"deep":${deepArrayText(rng.pick([1000, 100_000]))}}`
        : JSON.stringify({ big: "x".repeat(rng.int(100_000, 1_900_000)) });
      const event = JSON.stringify({
        seq: from,
        type: "event",
        id: `hostile-${from}`,
        kind: "k",
        severity: "info",
        message: "m",
        ts: "2026-11-26T00:00:00Z",
      });
      payload = `{"from":${from},"to":${from},"records":[${event.slice(0, -1)},"data":${data}}]}`;
    } else if (roll < 0.93) {
      const status = rng.pick<Json>([
        { online: true, lastSeq: Number.MAX_SAFE_INTEGER },
        { online: "yes" },
        { online: false, version: "v".repeat(100_000) },
        { online: true, lastSeq: -5 },
        hostileValue(rng),
      ]);
      let text: string;
      try {
        text = String(JSON.stringify(status));
      } catch {
        continue; // nested too deep for this process to serialize: draw another input
      }
      await publish(topics.status(deviceId), text);
      if (rng.chance(0.3)) {
        // A hello the cloud answers (or refuses): lying positions never move its ack.
        const hello = rng.pick<Json>([
          { v: 1, agentVersion: "x", outbox: { head: Number.MAX_SAFE_INTEGER, acked: 1e15 } },
          { v: 1, agentVersion: "x", outbox: { head: -1 } },
          { v: 99, agentVersion: "v".repeat(100), outbox: {} },
          hostileValue(rng),
        ]);
        try {
          await publish(topics.hello(deviceId), String(JSON.stringify(hello)));
        } catch {
          // nested too deep to serialize: skip it
        }
      }
      continue;
    } else {
      result.aclProbes++;
      const victimBatch = JSON.stringify(batchOf(HOSTILE_ZONE * 1000, 1));
      const probe = rng.pick<[string, string]>([
        [topics.batch(options.victim), victimBatch],
        [topics.status(options.victim), JSON.stringify({ online: false })],
        [
          topics.hello(options.victim),
          JSON.stringify({ v: 1, agentVersion: "evil", outbox: { head: 0 } }),
        ],
        [topics.ack(deviceId), JSON.stringify({ upTo: Number.MAX_SAFE_INTEGER })],
        [topics.ack(options.victim), JSON.stringify({ upTo: 0 })],
        [
          topics.desired(options.victim),
          JSON.stringify({ version: 999, desired: { logLevel: "debug" } }),
        ],
        [topics.command(options.victim), JSON.stringify({ id: "evil", name: "resync" })],
        [`outpost/v1/${deviceId}/up/other`, victimBatch],
        [`outpost/v1/${deviceId}/up/batch/extra`, victimBatch],
        ["$SYS/broker/evil", "x"],
        [`outpost/v2/${deviceId}/up/batch`, victimBatch],
      ]);
      if (rng.chance(0.2)) {
        // Subscriptions outside its own downlink are refused (SUBACK 128).
        await bounded(
          client,
          client.subscribeAsync(
            rng.pick(["outpost/v1/#", topics.deviceDownlink(options.victim), "#"]),
          ),
        );
        result.inputs++;
      } else {
        await publish(probe[0], probe[1]);
      }
      continue;
    }
    const confirmed = await publish(batchTopic, payload, rng.chance(0.8) ? 1 : 0);
    const stored = storedSeqs(payload);
    if (stored) {
      const into = confirmed ? result.expectedSeqs : result.maybeSeqs;
      if (confirmed) {
        const text = typeof payload === "string" ? payload : new TextDecoder().decode(payload);
        result.expectedPayloads.set(stored.from, text.slice(0, 400));
      }
      for (const seq of stored.seqs) into.add(seq);
    }
  }
  // A last valid batch: its ack proves every earlier message was dealt with, in order.
  const count = 3;
  for (let seq = nextValid; seq < nextValid + count; seq++) result.expectedSeqs.add(seq);
  await publishValid(JSON.stringify(batchOf(nextValid, count)));
  const finalAck = nextValid + count - 1;
  const deadline = Date.now() + 60_000;
  while (result.lastAck < finalAck && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await client.endAsync(true).catch(() => {});
  if (result.lastAck < finalAck) {
    throw new Error(
      `the ingest did not ack the hostile device's last valid batch (${finalAck}); last ack ${result.lastAck}`,
    );
  }
  return result;
}
