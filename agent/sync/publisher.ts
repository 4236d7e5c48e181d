/**
 * The outbox publisher: sends contiguous seq ranges as bounded batches, keeps a bounded window
 * of unacked batches, prunes on ack, and resends from `ackedSeq + 1` when no ack comes in time.
 * Memory stays bounded by the window, whatever the backlog.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import { NO_TRACING, type Tracing } from "@outpost/platform/trace";
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_RECORDS,
  MAX_TRACE_LINKS,
  readTraceparent,
} from "@outpost/protocol";
import { topics } from "@outpost/protocol";
import type { AgentStore, OutboxRow } from "../store/store.ts";

/**
 * What the publisher needs from an outbox: the agent's SQLite store, or an in-memory one (the
 * fleet simulator in tests/bench/sim.ts).
 */
export type PublisherOutbox = Pick<
  AgentStore,
  "outboxStats" | "onAppend" | "readOutbox" | "acknowledge"
>;

/** Options of {@link OutboxPublisher}. */
export interface OutboxPublisherOptions {
  store: PublisherOutbox;
  deviceId: string;
  logger: Logger;
  /** Publishes at QoS 1; resolves on PUBACK, rejects when the connection is gone. */
  publish: (topic: string, payload: string) => Promise<void>;
  maxRecords?: number;
  maxBytes?: number;
  /** Most batches sent and not yet acked. */
  window?: number;
  /** Resend from `ackedSeq + 1` when the oldest unacked batch waited this long. */
  ackTimeoutMs?: number;
  /** How often an idle publisher looks at the outbox even without a wake-up. */
  idlePollMs?: number;
  /**
   * Least time between two ack writes (each a transaction with an fsync): acks arriving
   * meanwhile are merged into the next write. The window does not wait for these writes.
   */
  ackWriteIntervalMs?: number;
  /**
   * With tracing on, each batch is sent inside a `sync.publish` span (a trace of its own) that
   * links to the writes its records came from and whose context the batch carries.
   */
  tracing?: Tracing;
}

type ResolvedOptions =
  & Required<Omit<OutboxPublisherOptions, "store" | "logger" | "publish" | "deviceId">>
  & OutboxPublisherOptions;

interface InFlight {
  to: number;
  /** {@link monotonicNow} when it was sent. */
  sentAt: number;
}

/**
 * Milliseconds on a clock that never jumps. Ack timeouts must not use the wall clock: a device
 * clock stepped back a day (NTP, a wrong RTC) made a batch whose ack was lost wait a day for
 * its resend (found by the chaos suite's clock-skew fault).
 */
function monotonicNow(): number {
  return performance.now();
}

/**
 * Builds the JSON of a batch from outbox rows without re-parsing their payloads; `traceparent`
 * is the upload's trace context, when traced.
 */
export function encodeBatch(rows: OutboxRow[], traceparent?: string): string {
  const records = rows.map((row) => `{"seq":${row.seq},${row.payload.slice(1)}`);
  const trace = traceparent === undefined ? "" : `"traceparent":"${traceparent}",`;
  return `{"from":${rows[0].seq},"to":${rows[rows.length - 1].seq},${trace}"records":[${
    records.join(",")
  }]}`;
}

/** The distinct write contexts the rows' records carry, in order, at most `max`. */
export function writeContexts(rows: OutboxRow[], max = MAX_TRACE_LINKS): string[] {
  const seen = new Set<string>();
  let previous: string | undefined;
  for (const row of rows) {
    const traceparent = readTraceparent(row.payload);
    // A write of many readings gives them one context: most rows repeat the previous one.
    if (traceparent === undefined || traceparent === previous) continue;
    previous = traceparent;
    seen.add(traceparent);
    if (seen.size >= max) break;
  }
  return [...seen];
}

/** Takes the longest contiguous prefix of `rows` that fits `maxBytes` (at least one row). */
export function takeBatch(rows: OutboxRow[], maxBytes: number): OutboxRow[] {
  let bytes = 40;
  let count = 0;
  for (const row of rows) {
    if (count > 0 && row.seq !== rows[count - 1].seq + 1) break;
    bytes += row.payload.length + 16;
    if (count > 0 && bytes > maxBytes) break;
    count++;
  }
  return rows.slice(0, count);
}

/** Publishes the outbox while connected. */
export class OutboxPublisher {
  #options: ResolvedOptions;
  #topic: string;
  #connected = false;
  #running = false;
  #ackedSeq = 0;
  #sentUpTo = 0;
  #inFlight: InFlight[] = [];
  #generation = 0;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  /** After a failed publish, no batch is sent before this {@link monotonicNow} time. */
  #pauseUntil = 0;
  /** {@link monotonicNow} when the last ack write started. */
  #lastAckWriteAt = -Infinity;
  /** The highest `upTo` received and not yet handed to the store; 0 when none. */
  #ackPending = 0;
  /** The run writing acks to the store, while one is going. */
  #ackRun: Promise<void> | undefined;
  /** Counters for metrics and tests (`ackWrites`: store transactions the acks took). */
  readonly stats = { batchesSent: 0, recordsSent: 0, resends: 0, acks: 0, ackWrites: 0 };

  constructor(options: OutboxPublisherOptions) {
    this.#options = {
      maxRecords: MAX_BATCH_RECORDS,
      maxBytes: MAX_BATCH_BYTES,
      window: 8,
      ackTimeoutMs: 15_000,
      idlePollMs: 1_000,
      ackWriteIntervalMs: 25,
      tracing: NO_TRACING,
      // Only defined options override the defaults.
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    } as ResolvedOptions;
    this.#topic = topics.batch(options.deviceId);
  }

  /** The highest seq the cloud acknowledged. */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** Starts the loop (idle until {@link connected}). */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#ackedSeq = (await this.#options.store.outboxStats()).ackedSeq;
    this.#sentUpTo = this.#ackedSeq;
    this.#unsubscribe = this.#options.store.onAppend(() => this.#poke());
    this.#loop = this.#run();
  }

  /** The link is up: (re)send everything not acked, from `ackedSeq + 1`. */
  connected(): void {
    this.#connected = true;
    this.#rewind();
  }

  /** The link is down: stop sending; unacked batches will be resent after reconnect. */
  disconnected(): void {
    this.#connected = false;
    this.#poke();
  }

  /** Reloads the acked seq after the store renumbered its records. */
  async rebased(): Promise<void> {
    this.#ackedSeq = (await this.#options.store.outboxStats()).ackedSeq;
    this.#rewind();
  }

  /** Resends everything not acked (the `resync` command). Returns the first seq resent. */
  resync(): number {
    this.#rewind();
    return this.#ackedSeq + 1;
  }

  /**
   * Handles `down/ack`: frees window slots at once, then prunes acked records. Resolves once
   * an ack of at least `upTo` is committed to the store.
   *
   * Acks that arrive while one is being written are merged: only the highest is written next,
   * in one transaction (one fsync) instead of one per ack. Acks are contiguous high-water
   * marks, so the highest one says everything the lower ones did.
   */
  acknowledge(upTo: number): Promise<void> {
    this.stats.acks++;
    // The cloud committed these batches: their window slots are free now, before the ack is
    // written here (a crash before that write only means a harmless resend). Only what this
    // session sent counts; `ackedSeq` (where a resend starts) moves once the ack is stored.
    const freed = Math.min(upTo, this.#sentUpTo);
    if (this.#inFlight.length && this.#inFlight[0].to <= freed) {
      this.#inFlight = this.#inFlight.filter((batch) => batch.to > freed);
      this.#poke();
    }
    if (upTo > this.#ackPending) this.#ackPending = upTo;
    // A run in progress writes again until nothing is pending, so it covers ours too.
    this.#ackRun ??= this.#writeAcks();
    return this.#ackRun;
  }

  async #writeAcks(): Promise<void> {
    try {
      for (;;) {
        // Acks received meanwhile (or in this same turn of the event loop) join this write.
        const wait = this.#lastAckWriteAt + this.#options.ackWriteIntervalMs - monotonicNow();
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
        const upTo = this.#ackPending;
        if (upTo === 0) break;
        this.#ackPending = 0;
        this.#lastAckWriteAt = monotonicNow();
        this.stats.ackWrites++;
        const acked = await this.#options.store.acknowledge(upTo).catch((error) => {
          // Kept for the next ack (or run) to write.
          if (upTo > this.#ackPending) this.#ackPending = upTo;
          throw error;
        });
        if (acked > this.#ackedSeq) this.#ackedSeq = acked;
        this.#inFlight = this.#inFlight.filter((batch) => batch.to > this.#ackedSeq);
        if (this.#sentUpTo < this.#ackedSeq) this.#sentUpTo = this.#ackedSeq;
        this.#poke();
      }
    } finally {
      this.#ackRun = undefined;
    }
  }

  /** Stops the loop. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.#poke();
    await this.#loop;
    // An ack being written finishes before the caller closes the store.
    await this.#ackRun?.catch(() => {});
  }

  #rewind(): void {
    this.#generation++;
    this.#inFlight = [];
    this.#sentUpTo = this.#ackedSeq;
    this.#poke();
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Publishes one batch; with tracing on, inside its upload span (ended at the PUBACK). */
  #send(batch: OutboxRow[]): Promise<void> {
    const { tracing, publish } = this.#options;
    if (!tracing.enabled) return publish(this.#topic, encodeBatch(batch));
    const from = batch[0].seq;
    const to = batch[batch.length - 1].seq;
    const links = writeContexts(batch);
    return tracing.inSpan("sync.publish", {
      kind: "producer",
      parent: null,
      links,
      attributes: {
        "messaging.system": "mqtt",
        "messaging.destination.name": this.#topic,
        "messaging.batch.message_count": batch.length,
        "outpost.device.id": this.#options.deviceId,
        "outpost.batch.from": from,
        "outpost.batch.to": to,
        "outpost.batch.write_traces": links.length,
      },
    }, (span) => publish(this.#topic, encodeBatch(batch, span.traceparent)));
  }

  async #run(): Promise<void> {
    const { store, logger, window, ackTimeoutMs, idlePollMs, maxRecords, maxBytes } = this.#options;
    while (this.#running) {
      try {
        if (!this.#connected) {
          await this.#sleep(idlePollMs);
          continue;
        }
        const pause = this.#pauseUntil - monotonicNow();
        if (pause > 0) {
          await this.#sleep(pause);
          continue;
        }
        const oldest = this.#inFlight[0];
        if (oldest && monotonicNow() - oldest.sentAt > ackTimeoutMs) {
          logger.warn("no ack in time; resending from the acked seq", {
            ackedSeq: this.#ackedSeq,
            waitedMs: monotonicNow() - oldest.sentAt,
          });
          this.stats.resends++;
          this.#rewind();
          continue;
        }
        if (this.#inFlight.length >= window) {
          await this.#sleep(
            oldest ? Math.max(10, ackTimeoutMs - (monotonicNow() - oldest.sentAt)) : idlePollMs,
          );
          continue;
        }
        const generation = this.#generation;
        const rows = await store.readOutbox(this.#sentUpTo, maxRecords);
        if (rows.length === 0) {
          await this.#sleep(
            this.#inFlight.length ? Math.min(idlePollMs, ackTimeoutMs) : idlePollMs,
          );
          continue;
        }
        if (generation !== this.#generation) continue; // rewound meanwhile: stale rows
        const batch = takeBatch(rows, maxBytes);
        const to = batch[batch.length - 1].seq;
        // Not awaited: the window, not the PUBACK of each batch, bounds what is in flight, so
        // the next batch is read and sent while this one travels. MQTT keeps them in order.
        this.#send(batch).catch((error) => {
          if (generation !== this.#generation) return; // already rewound
          if (this.#connected) logger.warn("publishing a batch failed", { error });
          this.#pauseUntil = monotonicNow() + Math.min(1000, idlePollMs);
          this.#rewind();
        });
        this.#inFlight.push({ to, sentAt: monotonicNow() });
        this.#sentUpTo = to;
        this.stats.batchesSent++;
        this.stats.recordsSent += batch.length;
      } catch (error) {
        if (this.#connected) logger.warn("publishing a batch failed", { error });
        this.#rewind();
        await this.#sleep(Math.min(1000, idlePollMs));
      }
    }
  }
}
