/**
 * The ingest: every uplink message, one at a time. A valid batch is committed in one
 * transaction and then acked; anything invalid is rejected whole, logged and counted, and the
 * ingest carries on.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import { type DecodeFailure, decodeMessage, MAX_MESSAGE_BYTES, Status } from "@outpost/protocol";
import { parseTopic } from "@outpost/protocol";
import type { Downlink } from "../broker/downlink.ts";
import type { UplinkHandler } from "../broker/link.ts";
import type { CloudStore } from "../store/store.ts";
import { decodeBatch } from "./decode.ts";

/** Why a message was rejected; the `reason` label of `outpost_ingest_rejected_total`. */
export type RejectReason = DecodeFailure | "unknown_topic" | "unknown_device" | "store_error";

/** Dependencies of {@link createIngest}. */
export interface IngestOptions {
  store: CloudStore;
  downlink: Downlink;
  logger: Logger;
  metrics: MetricsRegistry;
  now?: () => number;
  /** Called after each stored batch is committed, before its ack (fault injection). */
  afterCommit?: () => void;
}

/** A running ingest. */
export interface Ingest {
  /** Give this to `BrokerLink.subscribeUplink`; it never rejects. */
  handle: UplinkHandler;
  /** Marks a device offline (its broker connection ended), in order with its messages. */
  deviceDisconnected(deviceId: string): void;
  /** Resolves when every message handed over so far is dealt with. */
  drain(): Promise<void>;
}

/** Creates the ingest. Messages are handled strictly one after another, in arrival order. */
export function createIngest(options: IngestOptions): Ingest {
  const { store, downlink, logger } = options;
  const now = options.now ?? Date.now;
  const batches = options.metrics.counter(
    "outpost_ingest_batches_total",
    "Batches accepted, by result (stored, or duplicate when every seq was already stored).",
  );
  const records = options.metrics.counter(
    "outpost_ingest_records_total",
    "Readings and events newly stored from accepted batches, by type.",
  );
  const rejected = options.metrics.counter(
    "outpost_ingest_rejected_total",
    "Uplink messages rejected whole (nothing stored), by message kind and reason.",
  );
  const statuses = options.metrics.counter(
    "outpost_ingest_status_total",
    "Presence messages applied, by online state.",
  );
  const commitSeconds = options.metrics.histogram(
    "outpost_ingest_commit_seconds",
    "Time to commit one batch, in seconds.",
  );

  let tail: Promise<void> = Promise.resolve();
  function enqueue(task: () => Promise<void>): Promise<void> {
    const run = tail.then(task).catch((error) => {
      logger.error("ingest task failed", { error });
    });
    tail = run;
    return run;
  }

  function reject(reason: RejectReason, fields: { kind: string } & Record<string, unknown>) {
    rejected.inc({ kind: fields.kind, reason });
    // A bad message is the sender's problem; a failing database is ours.
    const level = reason === "store_error" ? "error" : "warn";
    logger[level]("uplink message rejected; nothing stored", { reason, ...fields });
  }

  function publishLater(publish: Promise<void>, fields: { what: string; deviceId: string }) {
    // Not awaited: the broker may be waiting on this very handler before it can deliver.
    publish.catch((error) => logger.warn("cannot publish downlink", { ...fields, error }));
  }

  async function ingestBatch(deviceId: string, payload: Uint8Array): Promise<void> {
    const decoded = decodeBatch(payload);
    if (!decoded.ok) {
      const detail = decoded.error;
      reject(decoded.reason, { kind: "batch", deviceId, bytes: payload.byteLength, detail });
      return;
    }
    const batch = decoded.value;
    const started = performance.now();
    let outcome;
    try {
      outcome = await store.commitBatch(deviceId, batch, { now: now() });
    } catch (error) {
      reject("store_error", { kind: "batch", deviceId, from: batch.from, to: batch.to, error });
      return;
    }
    if (!outcome.known) {
      reject("unknown_device", { kind: "batch", deviceId, from: batch.from, to: batch.to });
      return;
    }
    commitSeconds.observe((performance.now() - started) / 1000);
    if (!outcome.duplicate) options.afterCommit?.();
    batches.inc({ result: outcome.duplicate ? "duplicate" : "stored" });
    if (!outcome.duplicate) {
      records.inc({ type: "reading" }, outcome.inserted.readings);
      records.inc({ type: "event" }, outcome.inserted.events);
    }
    if (outcome.unknownCommands.length) {
      logger.warn("command results for unknown commands ignored", {
        deviceId,
        commandIds: outcome.unknownCommands.slice(0, 20),
      });
    }
    logger.debug("batch stored", {
      deviceId,
      from: batch.from,
      to: batch.to,
      ackedSeq: outcome.ackedSeq,
      duplicate: outcome.duplicate,
      gap: outcome.ackedSeq < batch.to,
    });
    publishLater(downlink.ack(deviceId, outcome.ackedSeq), { what: "ack", deviceId });
  }

  async function ingestStatus(deviceId: string, payload: Uint8Array): Promise<void> {
    const decoded = decodeMessage(Status, payload);
    if (!decoded.ok) {
      reject(decoded.reason, { kind: "status", deviceId, detail: decoded.error });
      return;
    }
    const status = decoded.value;
    let applied;
    try {
      applied = await store.applyStatus(deviceId, status, { now: now() });
    } catch (error) {
      reject("store_error", { kind: "status", deviceId, error });
      return;
    }
    if (!applied) {
      reject("unknown_device", { kind: "status", deviceId });
      return;
    }
    statuses.inc({ online: String(status.online) });
    logger.info(status.online ? "device online" : "device offline", {
      deviceId,
      version: status.version,
      lastSeq: status.lastSeq,
    });
    if (status.lastSeq !== undefined && status.lastSeq < applied.ackedSeq) {
      // Its seqs would collide with stored ones and be dropped as duplicates.
      logger.warn("device reports a last seq below what the cloud acked; was its data reset?", {
        deviceId,
        lastSeq: status.lastSeq,
        ackedSeq: applied.ackedSeq,
      });
    }
    if (status.online) publishLater(downlink.resume(deviceId), { what: "resume", deviceId });
  }

  function handle(topic: string, payload: Uint8Array): Promise<void> {
    return enqueue(async () => {
      const parsed = parseTopic(topic);
      if (!parsed || parsed.direction !== "up") {
        reject("unknown_topic", { kind: "unknown", topic: topic.slice(0, 200) });
        return;
      }
      if (payload.byteLength > MAX_MESSAGE_BYTES) {
        reject("oversized", {
          kind: parsed.kind,
          deviceId: parsed.deviceId,
          bytes: payload.byteLength,
        });
        return;
      }
      if (parsed.kind === "batch") await ingestBatch(parsed.deviceId, payload);
      else await ingestStatus(parsed.deviceId, payload);
    });
  }

  return {
    handle,
    deviceDisconnected(deviceId) {
      enqueue(async () => {
        await store.markOffline(deviceId);
      });
    },
    drain: () => tail,
  };
}
