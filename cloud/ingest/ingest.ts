/**
 * The ingest: every uplink message, one at a time. A valid batch is committed in one
 * transaction and then acked; anything invalid is rejected whole, logged and counted, and the
 * ingest carries on.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import { NO_TRACING, type Tracing } from "@outpost/platform/trace";
import {
  type Ack,
  type Batch,
  type DecodeFailure,
  decodeMessage,
  Hello,
  MAX_MESSAGE_BYTES,
  MAX_TRACE_LINKS,
  Status,
  traceSampled,
} from "@outpost/protocol";
import { parseTopic } from "@outpost/protocol";
import type { Downlink } from "../broker/downlink.ts";
import type { UplinkHandler } from "../broker/link.ts";
import type { BatchOutcome } from "../store/batch.ts";
import type { CloudStore } from "../store/store.ts";
import { decodeBatch, type DroppedRecord } from "./decode.ts";

/** Why a message was rejected; the `reason` label of `outpost_ingest_rejected_total`. */
export type RejectReason =
  | DecodeFailure
  | "unknown_topic"
  | "unknown_device"
  | "store_error"
  | "implausible_seq"
  | "device_inactive";

/** Dropped records named in one ack note, at most (the protocol's limit). */
const MAX_DROPPED_NOTED = 100;

/** Upload delay buckets, in seconds: a second to a week (offline for days is normal). */
export const UPLOAD_DELAY_BUCKETS = [1, 5, 30, 60, 300, 900, 3600, 21_600, 86_400, 604_800];

/** Dependencies of {@link createIngest}. */
export interface IngestOptions {
  store: CloudStore;
  downlink: Downlink;
  logger: Logger;
  metrics: MetricsRegistry;
  now?: () => number;
  /** `OUTPOST_MAX_SEQ_GAP` (see `CloudStore.commitBatch`); default the store's. */
  maxSeqGap?: number;
  /** Called after each stored batch is committed, before its ack (fault injection). */
  afterCommit?: () => void;
  /**
   * With tracing on: an `ingest.batch` span per batch (child of the upload's context) and an
   * `ingest.commit` span in the trace of each write whose records the batch carries.
   */
  tracing?: Tracing;
}

/** The records of one write (one trace context) in a batch. */
interface WriteTrace {
  from: number;
  to: number;
  records: number;
}

/** The sampled write contexts a batch's records carry, at most {@link MAX_TRACE_LINKS}. */
export function batchWriteTraces(batch: Batch): Map<string, WriteTrace> {
  const writes = new Map<string, WriteTrace>();
  for (const record of batch.records) {
    const traceparent = record.traceparent;
    if (traceparent === undefined || !traceSampled(traceparent)) continue;
    const write = writes.get(traceparent);
    if (write) {
      write.to = record.seq;
      write.records++;
    } else if (writes.size < MAX_TRACE_LINKS) {
      writes.set(traceparent, { from: record.seq, to: record.seq, records: 1 });
    }
  }
  return writes;
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
  const tracing = options.tracing ?? NO_TRACING;
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
  const hellos = options.metrics.counter(
    "outpost_ingest_hellos_total",
    "Hello messages answered with the device's ack position (and desired state when newer).",
  );
  const droppedRecords = options.metrics.counter(
    "outpost_ingest_dropped_records_total",
    "Records of stored batches dropped for breaking a field rule (acked, not stored).",
  );
  const clamped = options.metrics.counter(
    "outpost_ingest_implausible_status_total",
    "Presence messages whose last seq lay beyond OUTPOST_MAX_SEQ_GAP and was not believed.",
  );
  const commitSeconds = options.metrics.histogram(
    "outpost_ingest_commit_seconds",
    "Time to commit one batch, in seconds.",
  );
  const uploadDelay = options.metrics.histogram(
    "outpost_ingest_upload_delay_seconds",
    "Receive time minus device time of the first record of each stored batch (the upload lag; " +
      "includes the device clock's error).",
    UPLOAD_DELAY_BUCKETS,
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

  /**
   * Records the commit in the trace of each write the batch carries: the same transaction seen
   * from every trace that waited for it, linked to the batch's span. A debug line per write
   * carries its trace id, so its logs are found from the trace.
   */
  function traceCommit(
    deviceId: string,
    batch: Batch,
    times: { start: number; end: number; batchSpan: string | undefined },
    result: { outcome?: BatchOutcome; error?: unknown },
  ): void {
    for (const [traceparent, write] of batchWriteTraces(batch)) {
      const ids = tracing.record("ingest.commit", {
        kind: "internal",
        parent: traceparent,
        links: times.batchSpan ? [times.batchSpan] : [],
        startTime: times.start,
        endTime: times.end,
        error: result.error,
        attributes: {
          "outpost.device.id": deviceId,
          "outpost.seq.first": write.from,
          "outpost.seq.last": write.to,
          "outpost.records": write.records,
          "outpost.duplicate": result.outcome?.duplicate,
          "outpost.acked_seq": result.outcome?.ackedSeq,
        },
      });
      logger.debug("write committed", { deviceId, from: write.from, to: write.to, ...ids });
    }
  }

  /** Tells a known device what was refused, in an ack it sees once (see `Ack`). */
  function notify(deviceId: string, message: Ack) {
    publishLater(downlink.ackNotice(deviceId, message), { what: "ack notice", deviceId });
  }

  async function ingestBatch(deviceId: string, payload: Uint8Array): Promise<void> {
    const decoded = decodeBatch(payload);
    if (!decoded.ok) {
      const detail = decoded.error;
      reject(decoded.reason, { kind: "batch", deviceId, bytes: payload.byteLength, detail });
      const position = await store.downlinkState(deviceId).catch(() => undefined);
      if (position) {
        notify(deviceId, {
          upTo: position.ackedSeq,
          refused: {
            ...(decoded.from !== undefined ? { from: decoded.from } : {}),
            ...(decoded.to !== undefined ? { to: decoded.to } : {}),
            reason: decoded.reason,
            message: detail.slice(0, 500),
          },
        });
      }
      return;
    }
    const batch = decoded.value;
    const dropped = decoded.dropped;
    if (!tracing.enabled) return await commitBatch(deviceId, batch, dropped);
    await tracing.inSpan("ingest.batch", {
      kind: "consumer",
      parent: batch.traceparent ?? null,
      attributes: {
        "messaging.system": "mqtt",
        "messaging.batch.message_count": batch.records.length,
        "outpost.device.id": deviceId,
        "outpost.batch.from": batch.from,
        "outpost.batch.to": batch.to,
      },
    }, (span) => commitBatch(deviceId, batch, dropped, span.traceparent));
  }

  async function commitBatch(
    deviceId: string,
    batch: Batch,
    dropped: DroppedRecord[],
    batchSpan?: string,
  ): Promise<void> {
    const started = performance.now();
    const startedAt = Date.now();
    let outcome;
    try {
      outcome = await store.commitBatch(deviceId, batch, {
        now: now(),
        maxSeqGap: options.maxSeqGap,
      });
    } catch (error) {
      if (tracing.enabled) {
        traceCommit(deviceId, batch, { start: startedAt, end: Date.now(), batchSpan }, { error });
      }
      reject("store_error", { kind: "batch", deviceId, from: batch.from, to: batch.to, error });
      return;
    }
    if (tracing.enabled && outcome.known) {
      traceCommit(deviceId, batch, { start: startedAt, end: Date.now(), batchSpan }, { outcome });
    }
    if (!outcome.known) {
      reject("unknown_device", { kind: "batch", deviceId, from: batch.from, to: batch.to });
      return;
    }
    if (outcome.refused) {
      const { reason, message } = outcome.refused;
      reject(reason, { kind: "batch", deviceId, from: batch.from, to: batch.to, detail: message });
      // An inactive device has no session to tell (its credentials were removed).
      if (reason !== "device_inactive") {
        notify(deviceId, {
          upTo: outcome.ackedSeq,
          refused: { from: batch.from, to: batch.to, reason, message: message.slice(0, 500) },
        });
      }
      return;
    }
    if (dropped.length) {
      droppedRecords.inc({}, dropped.length);
      logger.warn("records dropped for breaking a field rule; the rest of the batch is stored", {
        deviceId,
        from: batch.from,
        to: batch.to,
        dropped: dropped.length,
        first: dropped.slice(0, 5),
      });
    }
    commitSeconds.observe((performance.now() - started) / 1000);
    if (!outcome.duplicate) options.afterCommit?.();
    batches.inc({ result: outcome.duplicate ? "duplicate" : "stored" });
    if (!outcome.duplicate) {
      // Every record may have been dropped: then there is no write time to measure from.
      const first = batch.records[0];
      const written = first && "ts" in first ? Date.parse(first.ts) : NaN;
      if (!isNaN(written)) uploadDelay.observe(Math.max(0, (now() - written) / 1000));
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
    if (dropped.length && !outcome.duplicate) {
      notify(deviceId, {
        upTo: outcome.ackedSeq,
        dropped: dropped.slice(0, MAX_DROPPED_NOTED).map((record) => ({
          from: record.seq,
          to: record.seq,
          reason: "schema",
          message: record.error.slice(0, 500),
        })),
      });
    }
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
      applied = await store.applyStatus(deviceId, status, {
        now: now(),
        maxSeqGap: options.maxSeqGap,
      });
    } catch (error) {
      reject("store_error", { kind: "status", deviceId, error });
      return;
    }
    if (!applied) {
      reject("unknown_device", { kind: "status", deviceId });
      return;
    }
    if (!applied.active) {
      reject("device_inactive", { kind: "status", deviceId });
      return;
    }
    if (applied.clamped) {
      clamped.inc();
      logger.warn("device reports a last seq implausibly far beyond its ack; not believed", {
        deviceId,
        lastSeq: status.lastSeq,
        ackedSeq: applied.ackedSeq,
        maxSeqGap: options.maxSeqGap,
      });
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

  /**
   * Answers an `up/hello` with the device's ack position and, if newer than the device's,
   * its desired state (see `Hello`). In the same queue as batches, so the position answered
   * includes every batch received before the hello. Refused, unanswered, from a device that is
   * unknown or not active, as its batches and status are.
   */
  async function ingestHello(deviceId: string, payload: Uint8Array): Promise<void> {
    const decoded = decodeMessage(Hello, payload);
    if (!decoded.ok) {
      reject(decoded.reason, { kind: "hello", deviceId, detail: decoded.error });
      return;
    }
    const hello = decoded.value;
    let state;
    try {
      state = await store.downlinkState(deviceId);
    } catch (error) {
      reject("store_error", { kind: "hello", deviceId, error });
      return;
    }
    if (!state) {
      reject("unknown_device", { kind: "hello", deviceId });
      return;
    }
    if (!state.active) {
      reject("device_inactive", { kind: "hello", deviceId });
      return;
    }
    hellos.inc();
    logger.debug("hello answered", {
      deviceId,
      agentVersion: hello.agentVersion,
      head: hello.outbox.head,
      deviceAcked: hello.outbox.acked,
      ackedSeq: state.ackedSeq,
      desiredVersion: state.desiredVersion,
      deviceDesiredVersion: hello.desiredVersion,
    });
    if (hello.outbox.acked !== undefined && hello.outbox.acked > state.ackedSeq) {
      // The device pruned records the cloud does not hold: the cloud lost data (a restore).
      logger.warn(
        "device says the cloud acked more than the cloud holds; was the cloud restored?",
        {
          deviceId,
          deviceAcked: hello.outbox.acked,
          ackedSeq: state.ackedSeq,
        },
      );
    }
    publishLater(downlink.answerHello(deviceId, hello, state), { what: "hello answer", deviceId });
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
      else if (parsed.kind === "hello") await ingestHello(parsed.deviceId, payload);
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
