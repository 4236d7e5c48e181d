/**
 * The NATS backend's settings, checked together: every one it needs is set, and each seed is a
 * seed of the right kind. A missing or bad one stops the start with a line naming it.
 * @module
 */
import { ConfigError } from "@outpost/platform/settings";
import { InvalidSeed, type NkeyKind, SigningKey } from "./nkey.ts";
import type { NatsKeys } from "./server_config.ts";

/** What the NATS backend reads from the cloud's configuration. */
export interface NatsConfigInput {
  natsUrl?: string[];
  mqttUrl?: string;
  natsOperatorSeed?: string;
  natsAccountSeed?: string;
  natsSystemAccountSeed?: string;
}

/** The NATS backend's settings, checked. */
export interface NatsSettings {
  natsUrls: string[];
  mqttUrls: string[];
  keys: NatsKeys;
}

function seed(kind: NkeyKind, variable: string, value: string | undefined): SigningKey {
  if (!value) {
    throw new ConfigError(
      `Cannot start cloud: OUTPOST_BROKER=nats needs ${variable} (or ${variable}_FILE): it is not set (deno task nats:init generates the seeds)`,
    );
  }
  try {
    return SigningKey.fromSeed(kind, value);
  } catch (error) {
    if (!(error instanceof InvalidSeed)) throw error;
    throw new ConfigError(
      `Cannot start cloud: ${variable} ${error.message}: current value is [redacted]`,
    );
  }
}

/** @throws ConfigError naming the first missing or bad setting. */
export function readNatsSettings(config: NatsConfigInput): NatsSettings {
  if (!config.natsUrl?.length) {
    throw new ConfigError(
      "Cannot start cloud: OUTPOST_BROKER=nats needs OUTPOST_NATS_URL (the cluster's nats:// client URLs, comma-separated): it is not set",
    );
  }
  if (!config.mqttUrl) {
    throw new ConfigError(
      "Cannot start cloud: OUTPOST_BROKER=nats needs OUTPOST_MQTT_URL (the cluster's MQTT listener(s), what devices are told unless OUTPOST_MQTT_PUBLIC_URL is set): it is not set",
    );
  }
  const operator = seed("operator", "OUTPOST_NATS_OPERATOR_SEED", config.natsOperatorSeed);
  const account = seed("account", "OUTPOST_NATS_ACCOUNT_SEED", config.natsAccountSeed);
  const systemAccount = seed(
    "account",
    "OUTPOST_NATS_SYSTEM_ACCOUNT_SEED",
    config.natsSystemAccountSeed,
  );
  if (account.publicKey === systemAccount.publicKey) {
    throw new ConfigError(
      "Cannot start cloud: OUTPOST_NATS_ACCOUNT_SEED and OUTPOST_NATS_SYSTEM_ACCOUNT_SEED are the same key: they must be two accounts",
    );
  }
  return {
    natsUrls: config.natsUrl,
    mqttUrls: config.mqttUrl.split(","),
    keys: { operator, account, systemAccount },
  };
}
