/**
 * The cloud's link to a NATS JetStream cluster: uplink from a work-queue stream through ONE
 * durable pull consumer that every cloud replica shares (competing consumers: a message is
 * acked only after the ingest settled it, so what a dead replica held is redelivered to a live
 * one after `ackWaitMs`), and downlink as plain NATS messages on the device's subjects, which
 * NATS delivers to the device's MQTT subscription (at QoS 0; devices subscribe at QoS 0 here,
 * `downlinkQos`). Nothing is retained and nothing queued in the cluster: whatever a device
 * missed while away (its ack position, the desired state, open commands) the cloud sends again
 * in answer to the hello it says on every connect. Through an MQTT connection of the cloud every
 * message was stored with three replicas before the next one was read: ~40 msg/s for the whole
 * fleet (measured with `deno task sim --broker nats`), so a desired-state rollout to 10,000
 * devices took minutes; and a lost message only makes the device resend what the ingest stores
 * once, or wait for the answer to its next hello.
 *
 * Presence: NATS publishes no Last Will for the MQTT clients of a node that dies. Devices
 * reconnect to another node and publish their status again; a device that does not come back
 * is found by the presence sweep, which asks every node for its MQTT connections
 * (`$SYS.REQ.SERVER.PING.CONNZ`) and reports devices the database shows online but no node
 * has, in two sweeps in a row, as disconnected.
 * @module
 */
import {
  AckPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@outpost/platform/log";
import { topics } from "@outpost/protocol";
import type { BrokerLink, PublishOptions, UplinkHandler } from "../link.ts";
import { subjectOfTopic, topicOfSubject } from "./device_credentials.ts";

/** The uplink stream. */
export const UPLINK_STREAM = "OUTPOST_UP";
/** The durable consumer all cloud replicas share. */
export const INGEST_CONSUMER = "outpost-ingest";

/** Options of {@link connectNatsLink}. */
export interface NatsLinkOptions {
  /** Connection of an Outpost-account user (JetStream API). */
  nats: NatsConnection;
  /** Connection of a system-account user (presence sweep). */
  system: NatsConnection;
  /** The Outpost account's public key (filters the sweep). */
  account: string;
  logger: Logger;
  /** Stream replicas; default 3 when the server is in a cluster, else 1. */
  replicas?: number;
  /** Redelivery of an unacked message; default 30 s (a handler still working extends it). */
  ackWaitMs?: number;
  /** Devices the database shows online (presence sweep). */
  onlineDevices?: () => Promise<string[]>;
  /** Presence sweep period; default 30 s; 0 turns it off. */
  sweepMs?: number;
}

/** The NATS link, with what the tests look at. */
export interface NatsLink extends BrokerLink {
  /** One presence sweep now: the device ids reported disconnected. */
  sweepPresence(): Promise<string[]>;
}

/** Creates the uplink stream and the shared consumer if missing (idempotent). */
export async function ensureUplinkStream(
  jsm: JetStreamManager,
  replicas: number,
  ackWaitMs: number,
): Promise<void> {
  try {
    await jsm.streams.info(UPLINK_STREAM);
  } catch {
    await jsm.streams.add({
      name: UPLINK_STREAM,
      subjects: [subjectOfTopic(topics.allUplink)],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
    }).catch(async (error) => {
      // Another replica created it meanwhile.
      await jsm.streams.info(UPLINK_STREAM).catch(() => Promise.reject(error));
    });
  }
  try {
    await jsm.consumers.info(UPLINK_STREAM, INGEST_CONSUMER);
  } catch {
    // Replicas as the stream's (0): a consumer with one replica on a node that dies stops
    // ingest until that node is back; a replicated one elects a new leader.
    await jsm.consumers.add(UPLINK_STREAM, {
      durable_name: INGEST_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWaitMs * 1_000_000,
      max_ack_pending: 10_000,
      max_deliver: -1,
    }).catch(async (error) => {
      await jsm.consumers.info(UPLINK_STREAM, INGEST_CONSUMER).catch(() => Promise.reject(error));
    });
  }
}

/** Connects the link; uplink starts with `subscribeUplink`. */
export function connectNatsLink(options: NatsLinkOptions): NatsLink {
  const logger = options.logger.child({ broker: "nats" });
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  let closed = false;
  // Between a "disconnect" and the "reconnect" the client buffers what we publish; the gauge
  // and /readyz should still say the broker is gone.
  let linkUp = true;
  (async () => {
    for await (const status of options.nats.status()) {
      if (status.type === "disconnect") linkUp = false;
      else if (status.type === "reconnect") linkUp = true;
    }
  })().catch(() => {});
  let stopConsuming: (() => void) | undefined;
  let consuming: Promise<void> | undefined;
  let disconnected: ((deviceId: string) => void) | undefined;
  const missing = new Set<string>();
  let sweepTimer: ReturnType<typeof setInterval> | undefined;

  async function consume(handler: UplinkHandler): Promise<void> {
    const replicas = options.replicas ?? (options.nats.info?.cluster ? 3 : 1);
    while (!closed) {
      try {
        const jsm = await jetstreamManager(options.nats);
        await ensureUplinkStream(jsm, replicas, ackWaitMs);
        const consumer = await jetstream(options.nats).consumers.get(
          UPLINK_STREAM,
          INGEST_CONSUMER,
        );
        const messages = await consumer.consume({ max_messages: 256 });
        stopConsuming = () => messages.stop();
        logger.info("consuming uplink", { stream: UPLINK_STREAM, consumer: INGEST_CONSUMER });
        for await (const message of messages) {
          // Keeps the message ours while the ingest works on it (a slow commit is no death).
          const working = setInterval(() => message.working(), ackWaitMs / 3);
          try {
            await handler(topicOfSubject(message.subject), message.data);
          } finally {
            clearInterval(working);
          }
          message.ack();
        }
      } catch (error) {
        if (closed) return;
        logger.warn("uplink consumer stopped; retrying", { error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  async function sweepPresence(): Promise<string[]> {
    if (!options.onlineDevices || !disconnected) return [];
    const connected = new Set<string>();
    const replies = await options.system.requestMany(
      "$SYS.REQ.SERVER.PING.CONNZ",
      JSON.stringify({ acc: options.account, limit: 1_000_000 }),
      { maxWait: 2000 },
    );
    for await (const reply of replies) {
      const body = reply.json<{ data?: { connections?: { mqtt_client?: string }[] } }>();
      for (const connection of body.data?.connections ?? []) {
        if (connection.mqtt_client) connected.add(connection.mqtt_client);
      }
    }
    const gone: string[] = [];
    const online = new Set(await options.onlineDevices());
    for (const id of [...missing]) if (connected.has(id) || !online.has(id)) missing.delete(id);
    for (const id of online) {
      if (connected.has(id)) continue;
      // Twice in a row: a device between reconnects is not reported.
      if (missing.has(id)) {
        missing.delete(id);
        gone.push(id);
        disconnected(id);
      } else {
        missing.add(id);
      }
    }
    if (gone.length) logger.info("presence sweep: devices gone without a Last Will", { gone });
    return gone;
  }

  const sweepMs = options.sweepMs ?? 30_000;
  if (sweepMs > 0 && options.onlineDevices) {
    sweepTimer = setInterval(() => {
      sweepPresence().catch((error) =>
        logger.warn("presence sweep failed", { error: String(error) })
      );
    }, sweepMs);
  }

  return {
    protocolVersion: 4,
    downlinkQos: 0,
    subscribeUplink(handler) {
      consuming ??= consume(handler);
      return Promise.resolve();
    },
    publish(topic: string, payload: string | Uint8Array, _options: PublishOptions) {
      if (options.nats.isClosed()) return Promise.reject(new Error("NATS connection closed"));
      // Not retained (see the module doc); a cleared retained message (empty payload) is
      // delivered as an empty message, which devices ignore.
      options.nats.publish(subjectOfTopic(topic), payload);
      return Promise.resolve();
    },
    onDeviceDisconnect(handler) {
      disconnected = handler;
    },
    connected: () => linkUp && !options.nats.isClosed(),
    sweepPresence,
    async close() {
      closed = true;
      clearInterval(sweepTimer);
      stopConsuming?.();
      await consuming;
    },
  };
}
