/**
 * Chooses and starts the cloud's broker link from its configuration, loading only the broker
 * library that configuration needs: aedes for the embedded broker, MQTT.js for an external one
 * (Mosquitto with dynamic security, or any broker without it). Each is imported on demand;
 * measured alone, aedes adds ~15 MB of RSS and MQTT.js ~16 MB (docs/PERFORMANCE.md).
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import { ConfigError } from "@outpost/platform/settings";
import type { BrokerKind, CloudConfig } from "../config.ts";
import type { CloudStore } from "../store/store.ts";
import {
  type DeviceCredentialsProvisioner,
  deviceTableProvisioner,
  unconfiguredProvisioner,
} from "./credentials.ts";
import { type BrokerLink, redactUrl } from "./link.ts";

/** The broker the cloud runs with, and what enrollment hands out. */
export interface BrokerSetup {
  link: BrokerLink;
  /** The embedded broker's port; undefined with an external broker. */
  mqttPort?: number;
  provisioner: DeviceCredentialsProvisioner;
  /** The broker URL handed to devices at enrollment. */
  publicUrl: string;
  /** A description safe to log. */
  describe: string;
}

/** What {@link startBroker} needs from the rest of the cloud. */
export interface BrokerParts {
  store: CloudStore;
  isReady: () => boolean;
  logger: Logger;
  metrics: MetricsRegistry;
}

/** `mqtt://host:port` with IPv6 literals bracketed. */
export function mqttUrl(host: string, port: number): string {
  return `mqtt://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Which backend runs: `external` is a broker the cloud cannot provision (enrollment: 503). */
export type BrokerChoice = BrokerKind | "external";

/**
 * The backend OUTPOST_BROKER names or, when it is unset, the one the other settings imply (no
 * OUTPOST_MQTT_URL: embedded; with the dynsec admin user and password: mosquitto; else an
 * external broker without provisioning).
 * @throws ConfigError for settings that contradict the choice.
 */
export function chooseBroker(
  config: Pick<
    CloudConfig,
    "broker" | "mqttUrl" | "mqttUsername" | "mqttPassword" | "natsUrl"
  >,
): BrokerChoice {
  const kind = config.broker;
  if (kind !== "nats" && config.natsUrl !== undefined) {
    throw new ConfigError(
      `Cannot start cloud: OUTPOST_NATS_URL is set but OUTPOST_BROKER is '${
        kind ?? "unset"
      }': set OUTPOST_BROKER=nats to use the NATS cluster, or unset OUTPOST_NATS_URL`,
    );
  }
  if (kind !== "nats" && config.mqttUrl?.includes(",")) {
    throw new ConfigError(
      `Cannot start cloud: OUTPOST_MQTT_URL must be one URL unless OUTPOST_BROKER=nats: current value is '${config.mqttUrl}'`,
    );
  }
  if (kind === "embedded" && config.mqttUrl !== undefined) {
    throw new ConfigError(
      `Cannot start cloud: OUTPOST_BROKER=embedded runs its own broker, but OUTPOST_MQTT_URL names one: current value is '${config.mqttUrl}'; unset it or choose another OUTPOST_BROKER`,
    );
  }
  if (kind === "mosquitto") {
    const missing = config.mqttUrl === undefined
      ? "OUTPOST_MQTT_URL"
      : config.mqttUsername === undefined
      ? "OUTPOST_MQTT_USERNAME"
      : config.mqttPassword === undefined
      ? "OUTPOST_MQTT_PASSWORD"
      : undefined;
    if (missing) {
      throw new ConfigError(
        `Cannot start cloud: OUTPOST_BROKER=mosquitto needs ${missing} (the broker and its dynamic-security admin): it is not set`,
      );
    }
  }
  if (kind) return kind;
  if (config.mqttUrl === undefined) return "embedded";
  return config.mqttUsername !== undefined && config.mqttPassword !== undefined
    ? "mosquitto"
    : "external";
}

/**
 * Starts the backend {@link chooseBroker} picks: the embedded broker, Mosquitto with dynsec
 * provisioning, an external broker without provisioning, or the NATS JetStream cluster.
 */
export async function startBroker(config: CloudConfig, parts: BrokerParts): Promise<BrokerSetup> {
  const logger = parts.logger.child({ part: "broker" });
  const choice = chooseBroker(config);
  if (choice === "nats") {
    const { readNatsSettings } = await import("./nats/settings.ts");
    const settings = readNatsSettings(config);
    const ca = await readMqttCa(config.mqttCa);
    const { startNats } = await import("./nats/setup.ts");
    const { deferredNats } = await import("./nats/deferred.ts");
    // Not awaited: the cloud serves its API while the cluster is down (docs/CLOUD.md).
    const nats = deferredNats(
      startNats({
        ...settings,
        store: parts.store,
        logger,
        ca,
        sweepMs: config.natsPresenceSweep ?? 0,
        credentialLifetimeSeconds: config.natsCredentialTtl === undefined
          ? undefined
          : Math.max(1, Math.round(config.natsCredentialTtl / 1000)),
      }),
      (error) => logger.error("the NATS backend cannot start", { error: String(error) }),
    );
    return {
      link: nats.link,
      provisioner: nats.provisioner,
      publicUrl: config.mqttPublicUrl ?? settings.mqttUrls.join(","),
      describe: `NATS JetStream ${settings.natsUrls.map(redactUrl).join(",")} (JWT auth; MQTT ${
        settings.mqttUrls.map(redactUrl).join(",")
      })`,
    };
  }
  if (choice === "embedded" || config.mqttUrl === undefined) {
    const { startEmbeddedBroker } = await import("./embedded.ts");
    const broker = await startEmbeddedBroker({
      hostname: config.host,
      port: config.mqttPort,
      passwordHash: (id) => parts.store.passwordHash(id),
      isReady: parts.isReady,
      logger,
      metrics: parts.metrics,
    });
    return {
      link: broker,
      mqttPort: broker.port,
      provisioner: deviceTableProvisioner(broker),
      publicUrl: config.mqttPublicUrl ?? mqttUrl(config.host, broker.port),
      describe: `embedded (MQTT 3.1.1) on ${mqttUrl(config.host, broker.port)}`,
    };
  }
  const ca = await readMqttCa(config.mqttCa);
  const publicUrl = config.mqttPublicUrl ?? config.mqttUrl;
  if (choice === "mosquitto" && config.mqttUsername && config.mqttPassword) {
    const { connectMosquitto } = await import("./mosquitto.ts");
    const mosquitto = connectMosquitto({
      url: config.mqttUrl,
      adminUsername: config.mqttUsername,
      adminPassword: config.mqttPassword,
      logger,
      ca,
    });
    return {
      ...mosquitto,
      publicUrl,
      describe: `Mosquitto ${redactUrl(config.mqttUrl)} (dynamic security)`,
    };
  }
  const { connectExternalBroker } = await import("./external.ts");
  return {
    link: connectExternalBroker({ url: config.mqttUrl, logger, ca }),
    provisioner: unconfiguredProvisioner(),
    publicUrl,
    describe: `external ${redactUrl(config.mqttUrl)} (no dynsec admin: enrollment answers 503)`,
  };
}

/** Reads OUTPOST_MQTT_CA, if set. */
async function readMqttCa(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(
      `Cannot start cloud: OUTPOST_MQTT_CA must name a readable PEM file: current value is '${path}' (${
        (error as Error).message
      })`,
    );
  }
}
