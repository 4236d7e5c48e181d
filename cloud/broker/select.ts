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
import type { CloudConfig } from "../config.ts";
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

/**
 * The embedded broker when OUTPOST_MQTT_URL is unset; else the link to the external broker,
 * with dynsec provisioning when OUTPOST_MQTT_USERNAME/PASSWORD are set.
 */
export async function startBroker(config: CloudConfig, parts: BrokerParts): Promise<BrokerSetup> {
  const logger = parts.logger.child({ part: "broker" });
  if (config.mqttUrl === undefined) {
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
  if (config.mqttUsername !== undefined && config.mqttPassword !== undefined) {
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
