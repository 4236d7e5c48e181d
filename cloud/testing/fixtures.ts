/**
 * Shared pieces of the cloud's tests: a migrated store in a temp dir, a broker link that
 * records what is published, a logger that collects lines, and batch builders.
 * @module
 */
import { createLogger, type Logger } from "@outpost/platform/log";
import type { Batch, BatchRecord } from "@outpost/protocol";
import type { BrokerLink, PublishOptions, UplinkHandler } from "../broker/link.ts";
import { hashPassword } from "../broker/credentials.ts";
import { type CloudDatabaseHandle, openCloudStore } from "../store/open.ts";
import type { CloudStore } from "../store/store.ts";

/** A migrated store in a fresh temp dir, removed afterwards. */
export async function withStore(
  fn: (store: CloudStore, opened: CloudDatabaseHandle, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-cloud-" });
  const opened = await openCloudStore({ kind: "sqlite", path: `${dir}/cloud.db` });
  try {
    await fn(opened.store, opened, dir);
  } finally {
    await opened.handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A logger whose lines are kept, parsed, for assertions. */
export function collectingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** One message published through a {@link RecordingLink}. */
export interface Published {
  topic: string;
  payload: unknown;
  options: PublishOptions;
}

/** A broker link that records publishes; `fail` makes publishing throw. */
export class RecordingLink implements BrokerLink {
  readonly protocolVersion = 4 as const;
  published: Published[] = [];
  fail = false;
  handler?: UplinkHandler;

  subscribeUplink(handler: UplinkHandler): Promise<void> {
    this.handler = handler;
    return Promise.resolve();
  }

  publish(topic: string, payload: string | Uint8Array, options: PublishOptions): Promise<void> {
    if (this.fail) return Promise.reject(new Error("broker down"));
    const text = typeof payload === "string" ? payload : new TextDecoder().decode(payload);
    this.published.push({ topic, payload: JSON.parse(text), options });
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Payloads published to `topic`, in order. */
  on(topic: string): unknown[] {
    return this.published.filter((p) => p.topic === topic).map((p) => p.payload);
  }
}

/** Enrolls a device directly in the store with a known password. */
export async function enrollForTest(store: CloudStore, id: string): Promise<void> {
  await store.enrollDevice({ id, passwordHash: hashPassword("secret-password") });
}

/** A reading record for a batch. */
export function reading(seq: number, value = seq): BatchRecord {
  return {
    seq,
    type: "reading",
    sensor: "temp",
    value,
    unit: "C",
    ts: new Date(Date.UTC(2026, 10, 26, 10, 0, seq % 60)).toISOString(),
  };
}

/** A batch of readings `from..to`. */
export function readingBatch(from: number, to: number): Batch {
  const records: BatchRecord[] = [];
  for (let seq = from; seq <= to; seq++) records.push(reading(seq));
  return { from, to, records };
}

/** JSON bytes of a value, as a broker delivers them. */
export function bytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
}

/** Waits until `check` holds, polling; throws naming `what` after 3 s. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
