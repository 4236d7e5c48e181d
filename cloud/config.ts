/**
 * The cloud's settings: flags override environment variables, every setting has a default
 * that works for `deno task dev`, and a bad value stops the start with one clear line.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LOG_LEVELS, type LogLevel } from "@outpost/platform/log";
import { DEFAULT_MAX_SEQ_GAP } from "./store/store.ts";
import {
  durationParser,
  enumParser,
  intParser,
  InvalidValue,
  namedPathsParser,
  type Parser,
  pathParser,
  portParser,
  readSecretFiles,
  readSettings,
  settingsHelp,
  type SettingValues,
  urlListParser,
  wordParser,
} from "@outpost/platform/settings";

/** The broker backends `OUTPOST_BROKER` selects. */
export const BROKER_KINDS = ["embedded", "mosquitto", "nats"] as const;
/** One of {@link BROKER_KINDS}. */
export type BrokerKind = typeof BROKER_KINDS[number];

/** Secrets that may also come from a file named by `<NAME>_FILE`. */
export const CLOUD_SECRET_FILES = [
  "OUTPOST_NATS_OPERATOR_SEED",
  "OUTPOST_NATS_ACCOUNT_SEED",
  "OUTPOST_NATS_SYSTEM_ACCOUNT_SEED",
] as const;

const MQTT_SCHEMES = ["mqtt:", "mqtts:", "ws:", "wss:"];
const mqttUrls = urlListParser(MQTT_SCHEMES);
const SEED = wordParser("an nkey seed (S followed by base32)", /^S[A-Z2-7]{20,200}$/);

/** Where the cloud keeps its data: a libSQL (SQLite) file or a PostgreSQL server. */
export type DatabaseLocation =
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; url: string };

/** PostgreSQL connections per cloud process unless `OUTPOST_DB_POOL_SIZE` says otherwise. */
export const DEFAULT_DB_POOL_SIZE = 10;

/** File name of the default libSQL database inside the data dir. */
export const CLOUD_DB_FILE = "cloud.db";

/**
 * Parses `DATABASE_URL`: `file:` URLs and plain paths select libSQL, `postgres://` and
 * `postgresql://` select PostgreSQL.
 */
export function databaseUrlParser(): Parser<DatabaseLocation> {
  return (raw) => {
    if (/^postgres(?:ql)?:\/\//i.test(raw)) {
      try {
        new URL(raw);
      } catch {
        throw new InvalidValue("must be a valid postgres:// URL");
      }
      return { kind: "postgres", url: raw };
    }
    if (/^file:/i.test(raw)) {
      // `file:relative/path.db` is common in libSQL docs; URL parsing would make it absolute.
      const path = raw.startsWith("file://") ? fileURLToPath(raw) : raw.slice("file:".length);
      if (!path || path.includes("\0")) throw new InvalidValue("must name a database file");
      return { kind: "sqlite", path };
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
      throw new InvalidValue(
        "must be a file: URL, a file path (libSQL) or a postgres:// URL (PostgreSQL)",
      );
    }
    if (raw.includes("\0")) throw new InvalidValue("must be a file system path");
    return { kind: "sqlite", path: raw };
  };
}

const TOKEN = wordParser(
  "a token of 16+ printable characters without spaces",
  /^[\x21-\x7e]{16,512}$/,
);

/** Every cloud setting, with its flag and environment variable. */
export const cloudSettings = {
  port: {
    flag: "port",
    env: "OUTPOST_PORT",
    parse: portParser(true),
    fallback: 8080,
    value: "port",
    help: "TCP port of the API and the fleet console (0 picks a free port).",
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
    help: "Directory of the default libSQL database, generated tokens and the embedded " +
      "broker's state (created if missing).",
    env: "OUTPOST_DATA_DIR",
    parse: pathParser(),
    fallback: ".data/cloud",
  },
  database: {
    flag: "database-url",
    value: "url",
    defaultText: "<data-dir>/cloud.db",
    help: "Where the cloud stores its data: a file: URL or path (libSQL) or a postgres:// URL " +
      "(PostgreSQL).",
    env: "DATABASE_URL",
    parse: databaseUrlParser(),
    // Resolved against the data dir by loadCloudConfig.
    fallback: undefined as DatabaseLocation | undefined,
    // A postgres:// URL carries a password.
    secret: true,
  },
  dbPoolSize: {
    flag: "db-pool-size",
    value: "n",
    help: "PostgreSQL connections per cloud process (1-1000; replicas add up). Unused with libSQL.",
    env: "OUTPOST_DB_POOL_SIZE",
    // Used with PostgreSQL only (libSQL has one connection). Per process: replicas add up.
    parse: intParser(1, 1000),
    fallback: DEFAULT_DB_POOL_SIZE,
  },
  adminToken: {
    flag: "admin-token",
    value: "token",
    defaultText: "generated once into <data-dir>/admin-token",
    help: "Bearer token of the admin API and the fleet console (16+ printable characters).",
    env: "OUTPOST_ADMIN_TOKEN",
    parse: TOKEN,
    fallback: undefined as string | undefined,
    secret: true,
  },
  enrollToken: {
    flag: "enroll-token",
    value: "token",
    defaultText: "generated once into <data-dir>/enroll-token",
    help: "Bootstrap token devices present to enroll (16+ printable characters).",
    env: "OUTPOST_ENROLL_TOKEN",
    parse: TOKEN,
    fallback: undefined as string | undefined,
    secret: true,
  },
  broker: {
    flag: "broker",
    value: "kind",
    defaultText: "embedded without --mqtt-url, mosquitto with --mqtt-username/--mqtt-password, " +
      "else an external broker without provisioning",
    help: `The broker backend: ${BROKER_KINDS.join(", ")} (docs/CLOUD.md).`,
    env: "OUTPOST_BROKER",
    parse: enumParser(BROKER_KINDS),
    fallback: undefined as BrokerKind | undefined,
  },
  mqttUrl: {
    flag: "mqtt-url",
    value: "url",
    defaultText: "unset: the cloud runs an embedded broker on --mqtt-port",
    help: "The external broker: Mosquitto 2 (with dynamic security), or the MQTT listener(s) " +
      "of the NATS cluster for the cloud's downlink (comma-separated with nats).",
    env: "OUTPOST_MQTT_URL",
    // Kept as one string; a list (comma-separated) is allowed with nats only (select.ts).
    parse: (raw: string) => mqttUrls(raw).join(","),
    fallback: undefined as string | undefined,
  },
  natsUrl: {
    flag: "nats-url",
    value: "urls",
    help:
      "NATS client URLs of the cluster (comma-separated nats:// or tls://), with --broker nats.",
    env: "OUTPOST_NATS_URL",
    parse: urlListParser(["nats:", "tls:"]),
    fallback: undefined as string[] | undefined,
  },
  natsOperatorSeed: {
    flag: "nats-operator-seed",
    value: "seed",
    help: "Operator nkey seed (SO…; or OUTPOST_NATS_OPERATOR_SEED_FILE): signs the account JWT " +
      "with the revocations. From deno task nats:init.",
    env: "OUTPOST_NATS_OPERATOR_SEED",
    parse: SEED,
    fallback: undefined as string | undefined,
    secret: true,
  },
  natsAccountSeed: {
    flag: "nats-account-seed",
    value: "seed",
    help: "Outpost account nkey seed (SA…; or OUTPOST_NATS_ACCOUNT_SEED_FILE): signs device JWTs.",
    env: "OUTPOST_NATS_ACCOUNT_SEED",
    parse: SEED,
    fallback: undefined as string | undefined,
    secret: true,
  },
  natsSystemAccountSeed: {
    flag: "nats-system-account-seed",
    value: "seed",
    help: "System account nkey seed (SA…; or OUTPOST_NATS_SYSTEM_ACCOUNT_SEED_FILE): pushes " +
      "account updates, asks the nodes for connections.",
    env: "OUTPOST_NATS_SYSTEM_ACCOUNT_SEED",
    parse: SEED,
    fallback: undefined as string | undefined,
    secret: true,
  },
  natsPresenceSweep: {
    flag: "nats-presence-sweep",
    value: "duration",
    help: "With nats: how often the cloud asks every node for its MQTT connections, to mark " +
      "offline the devices gone with a node (no Last Will then; two misses in a row), e.g. 30s.",
    env: "OUTPOST_NATS_PRESENCE_SWEEP",
    parse: durationParser(),
    fallback: 30_000 as number | undefined,
    defaultText: "30s",
  },
  natsCredentialTtl: {
    flag: "nats-credential-ttl",
    value: "duration",
    help: "With nats: how long a device's JWT is valid (the agent enrolls again with its device " +
      "secret when it expires); revocations are kept that long, then dropped, e.g. 30d; off: " +
      "valid until revoked, revocations kept forever.",
    env: "OUTPOST_NATS_CREDENTIAL_TTL",
    parse: durationParser(),
    fallback: 30 * 86_400_000 as number | undefined,
    defaultText: "30d",
  },
  mqttPort: {
    flag: "mqtt-port",
    value: "port",
    help: "Port of the embedded broker (0 picks a free port); unused with --mqtt-url.",
    env: "OUTPOST_MQTT_PORT",
    parse: portParser(true),
    fallback: 1883,
  },
  mqttUsername: {
    flag: "mqtt-username",
    value: "user",
    help: "Dynamic-security admin user of the external broker (with --mqtt-url).",
    env: "OUTPOST_MQTT_USERNAME",
    parse: wordParser("a user name without spaces"),
    fallback: undefined as string | undefined,
  },
  mqttPassword: {
    flag: "mqtt-password",
    value: "password",
    help: "That admin's password.",
    env: "OUTPOST_MQTT_PASSWORD",
    parse: wordParser("a password without spaces"),
    fallback: undefined as string | undefined,
    secret: true,
  },
  mqttPublicUrl: {
    flag: "mqtt-public-url",
    value: "url",
    defaultText: "the embedded broker's URL, or --mqtt-url",
    help: "The broker URL handed to devices at enrollment, as they reach it; several separated " +
      "by commas (the nodes of a clustered broker), tried by devices in turn.",
    env: "OUTPOST_MQTT_PUBLIC_URL",
    // Kept as one string, the URLs joined by commas (validated and normalised one by one):
    // enrollment splits it into `mqtt.urls`.
    parse: (raw: string) => urlListParser(["mqtt:", "mqtts:", "ws:", "wss:"])(raw).join(","),
    fallback: undefined as string | undefined,
  },
  mqttCa: {
    flag: "mqtt-ca",
    value: "file",
    help: "CA certificate file (PEM) for an external mqtts:// broker with a private CA.",
    env: "OUTPOST_MQTT_CA",
    // CA file for an external mqtts:// broker with a private CA (the cloud's own connections).
    parse: pathParser(),
    fallback: undefined as string | undefined,
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
   * TLS certificates whose expiry `/metrics` reports (`name=path,…`), e.g. the public endpoint's
   * and the broker's as mounted from their Secrets; read at every scrape.
   */
  certFiles: {
    flag: "cert-files",
    env: "OUTPOST_CERT_FILES",
    parse: namedPathsParser(),
    fallback: {} as Record<string, string>,
    value: "name=path,…",
    defaultText: "none",
    help: "TLS certificate files whose expiry /metrics reports (read at every scrape), e.g. " +
      "public=/etc/outpost/tls/tls.crt.",
  },
  /**
   * How far beyond a device's acked seq a batch may start (farther: refused whole, with a
   * reason the device logs) and a status may put its last seq (farther: not believed). Guards
   * the fleet's lag against a device claiming absurd seqs.
   */
  maxSeqGap: {
    flag: "max-seq-gap",
    env: "OUTPOST_MAX_SEQ_GAP",
    parse: intParser(1000, Number.MAX_SAFE_INTEGER),
    fallback: DEFAULT_MAX_SEQ_GAP,
    value: "n",
    help: "How far beyond a device's acked seq a batch may start (farther: refused whole, with a " +
      "reason the device logs) and a status may put its last seq (farther: not believed).",
  },
  /**
   * Fault injection for the test suites only (docs/RELIABILITY.md): SIGKILL the cloud right
   * after the n-th stored batch commits, before its ack is published. 0 (default) is off.
   */
  faultCrashAfterCommits: {
    flag: "fault-crash-after-commits",
    value: "n",
    help: "Tests only: SIGKILL the cloud right after the n-th stored batch commits, before " +
      "its ack. 0 is off.",
    env: "OUTPOST_FAULT_CRASH_AFTER_COMMITS",
    parse: intParser(0, 1_000_000_000),
    fallback: 0,
  },
};

/** `deno task cloud --help`, generated from {@link cloudSettings}. */
export function cloudHelp(): string {
  return settingsHelp(cloudSettings, {
    summary: "Outpost cloud: enrollment, ingest, the fleet API and console, and the MQTT broker.",
    usage: "deno task cloud [options]",
    notes: ["Docs: docs/CLOUD.md."],
  });
}

/** The cloud's resolved configuration; `database` is always set. */
export type CloudConfig = Omit<SettingValues<typeof cloudSettings>, "database"> & {
  database: DatabaseLocation;
};

/**
 * Reads the cloud configuration. Tokens left unset are generated later, at start, by
 * `ensureToken` (they need the file system).
 * @throws ConfigError with the one line to print.
 */
export function loadCloudConfig(
  args: string[],
  env: Record<string, string | undefined>,
): CloudConfig {
  const values = readSettings("cloud", cloudSettings, {
    args,
    env: readSecretFiles("cloud", env, CLOUD_SECRET_FILES),
  });
  return {
    ...values,
    database: values.database ?? { kind: "sqlite", path: join(values.dataDir, CLOUD_DB_FILE) },
  };
}
