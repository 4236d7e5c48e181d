/**
 * The agent's settings: flags override environment variables, every setting has a default
 * that works for `deno task dev`, and a bad value stops the start with one clear line.
 * @module
 */
import { hostname } from "node:os";
import { LOG_LEVELS, type LogLevel } from "@outpost/platform/log";
import { parseLabelList } from "@outpost/protocol";
import { isLoopbackHost } from "../sync/transport.ts";
import {
  booleanParser,
  ConfigError,
  durationParser,
  enumParser,
  intParser,
  InvalidValue,
  type Parser,
  pathParser,
  portParser,
  readSettings,
  settingsHelp,
  type SettingValues,
  urlListParser,
  urlParser,
  wordParser,
} from "@outpost/platform/settings";

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Default of `OUTPOST_TS_MAX_AGE`: 3650 days (about ten years of backfill). */
export const DEFAULT_TS_MAX_AGE_MS = 3650 * 86_400_000;
/** Default of `OUTPOST_TS_MAX_AHEAD`: one day (time zones, a clock a little fast). */
export const DEFAULT_TS_MAX_AHEAD_MS = 86_400_000;

/** Every agent setting, with its flag and environment variable. */
export const agentSettings = {
  port: {
    flag: "port",
    env: "OUTPOST_PORT",
    parse: portParser(true),
    fallback: 8000,
    value: "port",
    help: "TCP port of the local API and console (0 picks a free port).",
  },
  host: {
    flag: "host",
    value: "host",
    help: "Address the HTTP server binds to (0.0.0.0 for every interface).",
    env: "OUTPOST_HOST",
    parse: wordParser("a host name or IP address"),
    fallback: "127.0.0.1",
  },
  dataDir: {
    flag: "data-dir",
    value: "dir",
    help: "Directory of the SQLite database and the cloud credentials (created if missing).",
    env: "OUTPOST_DATA_DIR",
    parse: pathParser(),
    fallback: ".data/agent",
  },
  deviceId: {
    flag: "device-id",
    value: "id",
    defaultText: "the host name",
    help: "This device's id in the fleet: 1-63 letters, digits, '_', '.' or '-'.",
    env: "OUTPOST_DEVICE_ID",
    parse: wordParser(
      "1-63 letters, digits, '_', '.' or '-', starting with a letter or digit",
      DEVICE_ID,
    ),
    fallback: defaultDeviceId,
  },
  cloudUrl: {
    flag: "cloud-url",
    value: "url",
    defaultText: "unset: the agent runs unenrolled and writes queue locally",
    help: "The cloud to enroll with and sync to (http:// to a loopback host, else https://).",
    env: "OUTPOST_CLOUD_URL",
    parse: urlParser(["http:", "https:"]),
    fallback: undefined as string | undefined,
  },
  enrollToken: {
    flag: "enroll-token",
    value: "token",
    help: "The cloud's enrollment token, used once to obtain this device's broker credentials.",
    env: "OUTPOST_ENROLL_TOKEN",
    parse: wordParser("a token without spaces"),
    fallback: undefined as string | undefined,
    secret: true,
  },
  /**
   * Broker URLs, in the order they are tried: the agent connects to one and moves on to the
   * next when that connection fails or drops (the nodes of a clustered broker).
   */
  mqttUrls: {
    flag: "mqtt-url",
    value: "url,…",
    defaultText: "the URLs enrollment returns",
    help: "Broker URL, or several separated by commas tried in turn (mqtt://, mqtts://, ws://, " +
      "wss://), overriding the ones enrollment returns.",
    env: "OUTPOST_MQTT_URL",
    parse: urlListParser(["mqtt:", "mqtts:", "ws:", "wss:"]),
    fallback: undefined as string[] | undefined,
  },
  mqttCa: {
    flag: "mqtt-ca",
    value: "file",
    help: "CA certificate file (PEM) that signs the broker's certificate for mqtts:// or wss://.",
    env: "OUTPOST_MQTT_CA",
    parse: pathParser(),
    fallback: undefined as string | undefined,
  },
  /**
   * Allows sending credentials over plaintext to a non-loopback host: the MQTT password to an
   * `mqtt://`/`ws://` broker and the enrollment token to an `http://` cloud. Off by default;
   * only for a network the operator trusts (e.g. inside one dev cluster).
   */
  mqttAllowPlaintext: {
    flag: "mqtt-allow-plaintext",
    value: "true|false",
    help: "Allow the broker password or the enrollment token over plain transport to a " +
      "non-loopback host; only on a network you trust.",
    env: "OUTPOST_MQTT_ALLOW_PLAINTEXT",
    parse: booleanParser(),
    fallback: false,
  },
  apiToken: {
    flag: "api-token",
    value: "token",
    help: "When set, API writes need 'Authorization: Bearer <token>' and console changes a " +
      "login (16+ printable characters).",
    env: "OUTPOST_API_TOKEN",
    parse: wordParser(
      "a token of 16+ printable characters without spaces",
      /^[\x21-\x7e]{16,512}$/,
    ),
    fallback: undefined as string | undefined,
    secret: true,
  },
  retentionDays: {
    flag: "retention-days",
    value: "days",
    help: "Days readings and events stay queryable on the device (1-3650); unacked rows stay.",
    env: "OUTPOST_RETENTION_DAYS",
    parse: intParser(1, 3650),
    fallback: 30,
  },
  logLevel: {
    flag: "log-level",
    value: "level",
    help: `Log verbosity: ${LOG_LEVELS.join(", ")} (JSON lines on stderr).`,
    env: "OUTPOST_LOG_LEVEL",
    parse: enumParser(LOG_LEVELS),
    fallback: "info" as LogLevel,
  },
  /**
   * How far before the agent's clock a client-supplied `ts` may lie (readings, events);
   * `off`: only the protocol's fixed bounds (1970 to 2100) apply.
   */
  tsMaxAge: {
    flag: "ts-max-age",
    env: "OUTPOST_TS_MAX_AGE",
    parse: durationParser(),
    fallback: DEFAULT_TS_MAX_AGE_MS as number | undefined,
    value: "duration|off",
    defaultText: `${DEFAULT_TS_MAX_AGE_MS / 86_400_000}d`,
    help: "How far before this device's clock a client-supplied ts may lie (readings, events); " +
      "off leaves only the fixed bounds, 1970 to 2100.",
  },
  /** How far after the agent's clock a client-supplied `ts` may lie; `off` as above. */
  tsMaxAhead: {
    flag: "ts-max-ahead",
    env: "OUTPOST_TS_MAX_AHEAD",
    parse: durationParser(),
    fallback: DEFAULT_TS_MAX_AHEAD_MS as number | undefined,
    value: "duration|off",
    defaultText: `${DEFAULT_TS_MAX_AHEAD_MS / 3_600_000}h`,
    help: "How far after this device's clock a client-supplied ts may lie; off as above.",
  },
  /** Sent at enrollment; the cloud selects devices by them (`site=berlin,role=gateway`). */
  labels: {
    flag: "labels",
    env: "OUTPOST_LABELS",
    parse: labelsParser(),
    fallback: {} as Record<string, string>,
    value: "k=v,…",
    defaultText: "none",
    help: "Labels sent at enrollment, in Kubernetes label syntax; the cloud selects devices by " +
      "them (rollouts, jobs), e.g. site=berlin,role=gateway.",
  },
};

/** `k=v,k2=v2` in Kubernetes label syntax. */
function labelsParser(): Parser<Record<string, string>> {
  return (raw) => {
    try {
      return parseLabelList(raw);
    } catch (error) {
      throw new InvalidValue(
        `must be key=value pairs separated by commas, in Kubernetes label syntax (${
          (error as Error).message
        })`,
      );
    }
  };
}

/** `deno task agent --help` (and the compiled binary's), generated from {@link agentSettings}. */
export function agentHelp(): string {
  return settingsHelp(agentSettings, {
    summary: "Outpost agent: the edge node's local API, console and sync with the cloud.",
    usage: "deno task agent [options]   (or: outpost-agent [options])",
    notes: [
      "Without --cloud-url every local feature works and writes queue in the outbox until the " +
      "agent enrolls. Docs: docs/DEVICES.md.",
    ],
  });
}

/** The agent's resolved configuration. */
export type AgentConfig = SettingValues<typeof agentSettings>;

function defaultDeviceId(): string {
  // Host names can hold characters a device id may not; keep the safe part.
  const name = hostname().toLowerCase().replace(/[^a-z0-9_.-]/g, "-").replace(/^[^a-z0-9]+/, "");
  return (name || "outpost-device").slice(0, 63);
}

/**
 * Reads the agent configuration.
 * @throws ConfigError with the one line to print.
 */
export function loadAgentConfig(
  args: string[],
  env: Record<string, string | undefined>,
): AgentConfig {
  const config = readSettings("agent", agentSettings, { args, env });
  const refusal = plaintextEnrollmentRefusal(config.cloudUrl, config.mqttAllowPlaintext);
  if (refusal) throw new ConfigError(refusal);
  return config;
}

/**
 * Why enrolling at `cloudUrl` must not happen, or undefined when it may: over `http://` the
 * enrollment token and the broker password in the answer cross the network in clear, so plain
 * HTTP is allowed to a loopback host only, unless the operator vouches for the network.
 */
export function plaintextEnrollmentRefusal(
  cloudUrl: string | undefined,
  allowPlaintext: boolean,
): string | undefined {
  if (cloudUrl === undefined || allowPlaintext) return undefined;
  const url = new URL(cloudUrl);
  if (url.protocol !== "http:" || isLoopbackHost(url.hostname)) return undefined;
  return `OUTPOST_CLOUD_URL '${url.origin}' would send the enrollment token in plaintext: ` +
    `use https://, or set OUTPOST_MQTT_ALLOW_PLAINTEXT=true on a network you trust`;
}
