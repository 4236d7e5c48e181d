/**
 * The embedded development broker: aedes (MQTT 3.1.1) on a TCP port, with authentication and
 * ACL from the cloud's device table. The cloud itself does not connect over TCP: it subscribes
 * and publishes in-process.
 * @module
 */
import { Aedes, type AedesPublishPacket, type Client } from "aedes";
import { Buffer } from "node:buffer";
import type { EventEmitter } from "node:events";
import { createServer, type Server } from "node:net";
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import { ConfigError } from "@outpost/platform/settings";
import {
  deviceMayPublish,
  deviceMaySubscribe,
  isDeviceId,
  parseTopic,
  topics,
} from "@outpost/protocol";
import { verifyPassword } from "./credentials.ts";
import type { BrokerLink, PublishOptions, UplinkHandler } from "./link.ts";
import { indexRetained, type RetainedPersistence } from "./retained.ts";

/** CONNACK return codes of MQTT 3.1.1 that we use. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;

/**
 * Makes `socket.read()` (no size) return everything buffered, as Node's does.
 *
 * aedes reads once per "readable" event. Under Deno's node:net a single `read()` can leave
 * data in the buffer; no further "readable" event comes, and a publish larger than ~190 KB
 * stalls the connection for good. Reading until `null` restores Node's behaviour.
 */
export function drainingRead<T extends { read(size?: number): unknown }>(socket: T): T {
  const read = socket.read.bind(socket);
  socket.read = (size?: number) => {
    if (size !== undefined && size !== null) return read(size);
    const chunks: Uint8Array[] = [];
    for (let chunk = read(); chunk !== null; chunk = read()) chunks.push(chunk as Uint8Array);
    if (chunks.length === 0) return null;
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  };
  return socket;
}

/** Options of {@link startEmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Looks up a device's stored password hash; undefined when not enrolled. */
  passwordHash: (deviceId: string) => Promise<string | null | undefined>;
  /** Connections are refused (server unavailable) until the database is migrated. */
  isReady: () => boolean;
  logger: Logger;
  metrics?: MetricsRegistry;
  /** The setting that chose the port, named in errors. */
  portSetting?: string;
}

/** A running embedded broker. */
export interface EmbeddedBroker extends BrokerLink {
  /** The port it listens on (the actual one when 0 was asked). */
  readonly port: number;
  /**
   * Closes the connection of client `deviceId`, if any (after its credentials were rotated or
   * revoked in the device table). Resolves once it is closed.
   */
  disconnect(deviceId: string): Promise<void>;
}

function authError(message: string, returnCode: number): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

/**
 * Starts aedes on `hostname:port`.
 * @throws ConfigError when the port is taken or the address does not exist here.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const logger = options.logger;
  const authFailures = options.metrics?.counter(
    "outpost_broker_auth_failures_total",
    "MQTT connections refused by the embedded broker, by reason.",
  );
  const aclDenials = options.metrics?.counter(
    "outpost_broker_acl_denials_total",
    "Publishes and subscriptions the embedded broker's ACL denied, by action.",
  );

  async function checkCredentials(
    { client, username, password }: {
      client: Client;
      username: string | undefined;
      password: Buffer | undefined;
    },
  ): Promise<{ returnCode: number; reason: string } | undefined> {
    if (!options.isReady()) return { returnCode: SERVER_UNAVAILABLE, reason: "not_ready" };
    if (username === undefined || !isDeviceId(username)) {
      return { returnCode: BAD_USERNAME_OR_PASSWORD, reason: "bad_username" };
    }
    // A client id other than the user name could take over another device's session.
    if (client.id !== username) {
      return { returnCode: IDENTIFIER_REJECTED, reason: "client_id_mismatch" };
    }
    let stored: string | null | undefined;
    try {
      stored = await options.passwordHash(username);
    } catch (error) {
      logger.error("cannot check MQTT credentials", { deviceId: username, error });
      return { returnCode: SERVER_UNAVAILABLE, reason: "store_error" };
    }
    if (!stored) return { returnCode: BAD_USERNAME_OR_PASSWORD, reason: "unknown_device" };
    if (!password || !verifyPassword(password.toString("utf8"), stored)) {
      return { returnCode: BAD_USERNAME_OR_PASSWORD, reason: "wrong_password" };
    }
    return undefined;
  }

  /** The password each connected client logged in with, to check it again once registered. */
  const loggedInWith = new WeakMap<Client, string>();

  const broker = new Aedes({
    // Device ids are up to 63 characters; the default only matters for MQTT 3.1 clients.
    maxClientsIdLength: 64,
    connectTimeout: 10_000,
    drainTimeout: 30_000,
    authenticate(client, username, password, done) {
      checkCredentials({ client, username, password }).then((problem) => {
        if (!problem) {
          loggedInWith.set(client, password!.toString("utf8"));
          return done(null, true);
        }
        authFailures?.inc({ reason: problem.reason });
        logger.warn("MQTT connection refused", {
          clientId: client.id,
          username,
          reason: problem.reason,
        });
        done(authError(`MQTT connection refused: ${problem.reason}`, problem.returnCode), false);
      });
    },
    authorizePublish(client, packet, done) {
      // A Last Will published after its client is gone arrives with client null.
      const deviceId = client?.id ?? (packet as { clientId?: string }).clientId;
      if (deviceId !== undefined && deviceMayPublish(deviceId, packet.topic)) return done(null);
      aclDenials?.inc({ action: "publish" });
      logger.warn("MQTT publish denied", { deviceId, topic: packet.topic.slice(0, 200) });
      // MQTT 3.1.1 has no negative PUBACK: the broker closes the connection instead.
      done(new Error(`device '${deviceId}' may not publish to '${packet.topic.slice(0, 200)}'`));
    },
    authorizeSubscribe(client, subscription, done) {
      if (deviceMaySubscribe(client.id, subscription.topic)) return done(null, subscription);
      aclDenials?.inc({ action: "subscribe" });
      logger.warn("MQTT subscription denied", {
        deviceId: client.id,
        filter: subscription.topic.slice(0, 200),
      });
      done(null, null); // SUBACK carries 128 for this filter; the connection stays up
    },
    authorizeForward(client, packet) {
      // Defense in depth: a device only ever receives its own downlink.
      const parsed = parseTopic(packet.topic);
      return parsed?.direction === "down" && parsed.deviceId === client.id ? packet : null;
    },
  });
  await broker.listen();
  // aedes creates its persistence in listen(); no client is connected before our server is.
  // Without the index every SUBSCRIBE scans every retained message: O(N²) to connect N devices.
  indexRetained((broker as unknown as { persistence: RetainedPersistence }).persistence);
  // aedes emits "error" on persistence failures; unhandled, that event would end the process.
  (broker as unknown as EventEmitter).on("error", (error: Error) => {
    logger.error("embedded broker error", { error });
  });
  broker.on("clientError", (client, error) => {
    logger.warn("MQTT client error", { deviceId: client.id, error });
  });
  broker.on("connectionError", (client, error) => {
    logger.debug("MQTT connection error", { clientId: client.id, error });
  });
  broker.on("clientReady", (client) => {
    logger.info("device connected", { deviceId: client.id });
    // The password was checked before the client was registered; if the device's credentials
    // were rotated or revoked in between, `disconnect` could not see this client yet.
    const password = loggedInWith.get(client);
    options.passwordHash(client.id).then((stored) => {
      if (!stored || password === undefined || !verifyPassword(password, stored)) {
        logger.warn("credentials changed while the device connected; disconnecting it", {
          deviceId: client.id,
        });
        client.close();
      }
    }, (error) => logger.error("cannot re-check MQTT credentials", { deviceId: client.id, error }));
  });

  const server: Server = createServer((socket) => {
    // Small downlink messages (acks) right after a PUBACK otherwise wait ~40 ms for Nagle and
    // the peer's delayed ACK; measured: 45 ms vs a few ms per batch round trip.
    socket.setNoDelay(true);
    broker.handle(drainingRead(socket));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const code = (error as { code?: string }).code;
    const setting = options.portSetting ?? "OUTPOST_MQTT_PORT or --mqtt-port";
    if (code === "EADDRINUSE") {
      throw new ConfigError(
        `Cannot start cloud: MQTT port ${options.port} on ${options.hostname} is already in use; choose another with ${setting}`,
      );
    }
    if (code === "EADDRNOTAVAIL") {
      throw new ConfigError(
        `Cannot start cloud: address ${options.hostname} is not available on this machine`,
      );
    }
    throw error;
  }
  server.on("error", (error) => logger.error("embedded broker socket error", { error }));
  const port = (server.address() as { port: number }).port;

  let closing: Promise<void> | undefined;
  return {
    protocolVersion: 4,
    port,
    subscribeUplink(handler: UplinkHandler) {
      const deliver = (packet: AedesPublishPacket, done: () => void) => {
        const payload = typeof packet.payload === "string"
          ? new TextEncoder().encode(packet.payload)
          : packet.payload;
        // `done` only after the handler settles: aedes then holds further messages back.
        handler(packet.topic, payload).then(done, done);
      };
      return new Promise<void>((resolve) => broker.subscribe(topics.allUplink, deliver, resolve));
    },
    publish(topic: string, payload: string | Uint8Array, publish: PublishOptions) {
      return new Promise<void>((resolve, reject) => {
        broker.publish({
          cmd: "publish",
          topic,
          payload: Buffer.from(payload),
          qos: publish.qos,
          retain: publish.retain,
          dup: false,
        }, (error) => error ? reject(error) : resolve());
      });
    },
    disconnect(deviceId: string) {
      const client = (broker as unknown as { clients: Record<string, Client | undefined> })
        .clients[deviceId];
      if (!client || client.closed) return Promise.resolve();
      logger.info("disconnecting device: its credentials changed", { deviceId });
      return new Promise<void>((resolve) => client.close(() => resolve()));
    },
    onDeviceDisconnect(handler: (deviceId: string) => void) {
      broker.on("clientDisconnect", (client) => {
        logger.info("device disconnected", { deviceId: client.id });
        handler(client.id);
      });
    },
    // In-process: up until it is closed.
    connected: () => closing === undefined,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
