/**
 * The link to an external broker (Mosquitto 2, MQTT 5) through MQTT.js. Replicas share one
 * `$share` subscription so each uplink message is ingested by exactly one of them.
 *
 * The session is clean (no session kept after a disconnect). Mosquitto keeps handing a
 * persistent session's share of a `$share` subscription to that session while it is
 * disconnected (eclipse/mosquitto#2662), so a killed replica with a kept session would strand
 * messages until it came back. A clean session disappears with its connection and the live
 * replicas get everything; what the dead one had taken but not committed was never acked, and
 * devices resend it (ack timeout, or on reconnect).
 * @module
 */
import mqtt from "mqtt";
import { hostname } from "node:os";
import type { Logger } from "@outpost/platform/log";
import { topics } from "@outpost/protocol";
import { type BrokerLink, type PublishOptions, redactUrl, type UplinkHandler } from "./link.ts";

export { redactUrl };

/** The shared-subscription group of every cloud replica. */
export const INGEST_GROUP = "outpost-ingest";

/** Options of {@link connectExternalBroker}. */
export interface ExternalBrokerOptions {
  url: string;
  username?: string;
  password?: string;
  logger: Logger;
  /**
   * Default: `outpost-cloud:<hostname>:<random>`, unique per process (sessions are not kept);
   * the `:` keeps it out of the device id space, so no device can take this session over.
   */
  clientId?: string;
  /** Default 5. Tests use 4 to run against aedes. */
  protocolVersion?: 4 | 5;
  /** Default: the shared uplink subscription of {@link INGEST_GROUP}. */
  uplinkFilter?: string;
  /** Reconnect delay in ms; default 2000. */
  reconnectPeriod?: number;
  /** CA certificate(s), PEM, for an `mqtts://` broker with a private CA. */
  ca?: string;
  /** More URLs of the same broker (cluster nodes): MQTT.js moves to the next on reconnect. */
  moreUrls?: string[];
}

/** MQTT.js's `servers` list: host, port and protocol of each URL. */
function serversOf(urls: string[]) {
  return urls.map((raw) => {
    const url = new URL(raw);
    const protocol = url.protocol.slice(0, -1) as "mqtt" | "mqtts" | "ws" | "wss";
    const port = url.port ? Number(url.port) : protocol === "mqtts" ? 8883 : 1883;
    return { host: url.hostname.replace(/^\[|\]$/g, ""), port, protocol };
  });
}

/**
 * Connects to the broker (in the background: MQTT.js keeps reconnecting) and returns the link.
 * Uplink messages are acknowledged (PUBACK) only once the handler settled, so the broker
 * redelivers what a crashed replica had not committed.
 */
export function connectExternalBroker(options: ExternalBrokerOptions): BrokerLink {
  const protocolVersion = options.protocolVersion ?? 5;
  const filter = options.uplinkFilter ?? topics.sharedUplink(INGEST_GROUP);
  const clientId = options.clientId ??
    `outpost-cloud:${hostname().replace(/[^\w.-]/g, "-").slice(0, 40)}:${
      crypto.randomUUID().slice(0, 8)
    }`;
  const logger = options.logger.child({ broker: redactUrl(options.url) });
  const client = mqtt.connect(options.url, {
    protocolVersion,
    clientId,
    username: options.username,
    password: options.password,
    clean: true,
    // We subscribe again on every "connect" ourselves.
    resubscribe: false,
    reconnectPeriod: options.reconnectPeriod ?? 2000,
    ...(options.moreUrls?.length ? { servers: serversOf([options.url, ...options.moreUrls]) } : {}),
    ...(options.ca ? { ca: options.ca, rejectUnauthorized: true } : {}),
  });
  let handler: UplinkHandler | undefined;

  client.handleMessage = (packet, done) => {
    if (!handler) return done();
    const payload = typeof packet.payload === "string"
      ? new TextEncoder().encode(packet.payload)
      : packet.payload;
    handler(packet.topic, payload).then(() => done(), () => done());
  };
  client.on("connect", () => {
    logger.info("connected to MQTT broker", { clientId });
    if (handler) subscribe();
  });
  client.on("error", (error) => logger.warn("MQTT broker connection error", { error }));
  client.on("offline", () => logger.warn("MQTT broker unreachable; retrying"));

  function subscribe(): void {
    client.subscribeAsync(filter, { qos: 1 }).then(
      (granted) => logger.info("subscribed to uplink", { filter, granted }),
      (error) => logger.error("cannot subscribe to uplink", { filter, error }),
    );
  }

  return {
    protocolVersion,
    subscribeUplink(next) {
      handler = next;
      if (client.connected) subscribe();
      return Promise.resolve();
    },
    async publish(topic: string, payload: string | Uint8Array, publish: PublishOptions) {
      // MQTT.js would queue while offline and settle only after reconnecting; callers would
      // rather know now and leave the message to the next resend.
      if (!client.connected) {
        throw new Error(`MQTT broker ${redactUrl(options.url)} is not connected`);
      }
      await client.publishAsync(topic, typeof payload === "string" ? payload : payload as never, {
        qos: publish.qos,
        retain: publish.retain,
      });
    },
    connected: () => client.connected,
    async close() {
      handler = undefined;
      await client.endAsync();
    },
  };
}
