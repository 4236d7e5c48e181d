/**
 * The agent's lifecycle: open the store, serve HTTP, migrate, become ready, keep retention,
 * and stop gracefully (finish in-flight requests, then close the database).
 * @module
 */
import type { AgentConfig } from "./config/config.ts";
import { createAgentApp } from "./http/app.ts";
import { registerAgentMetrics } from "./metrics.ts";
import type { Logger } from "@outpost/platform/log";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { NO_TRACING, type Tracing } from "@outpost/platform/trace";
import { listen } from "@outpost/platform/serve";
import { openSqlite, runMigrations } from "@outpost/platform/sqlite";
import { agentMigrations } from "./store/migrations/mod.ts";
import { AGENT_DB_FILE } from "./store/open.ts";
import type { AgentDatabase } from "./store/schema.ts";
import { AgentStore } from "./store/store.ts";
import { VERSION } from "@outpost/platform/version";
import type { SyncService } from "./sync/service.ts";
import { unenrolledConnection } from "./sync/state.ts";
import { join } from "node:path";
import { loadCredentials } from "./sync/credentials.ts";
import { brokerUrls } from "@outpost/protocol";
import { checkDesired, RuntimeSettings } from "./sync/desired_settings.ts";
import {
  missingSecrets,
  registerSecretMetrics,
  warnAboutMissingApiToken,
} from "./config/secrets.ts";
import { createAgentErrorPage, createAgentUi } from "./ui/mod.ts";
import { loadAssets } from "@outpost/web/assets";
import { createSessionAuth } from "@outpost/web/session";

/** A running agent. */
export interface RunningAgent {
  /** The address the HTTP server listens on. */
  addr: Deno.NetAddr;
  store: AgentStore;
  /** The sync service, when a cloud is configured. */
  sync?: SyncService;
  /** Resolves once migrations are done and the API serves. */
  ready: Promise<void>;
  /** Graceful stop: stops accepting, finishes in-flight requests, closes the database. */
  stop(): Promise<void>;
}

const RETENTION_INTERVAL_MS = 3_600_000;

/** Loads the sync service module on demand, a static specifier so `deno compile` embeds it. */
export async function loadSyncService(): Promise<typeof SyncService> {
  return (await import("./sync/service.ts")).SyncService;
}

/** Options of {@link startAgent}. */
export interface StartAgentOptions {
  /** Spans of requests, writes and uploads (default: off). */
  tracing?: Tracing;
}

/** Starts the agent described by `config`. */
export async function startAgent(
  config: AgentConfig,
  logger: Logger,
  options: StartAgentOptions = {},
): Promise<RunningAgent> {
  const tracing = options.tracing ?? NO_TRACING;
  // The sync service (and with it the MQTT client) is loaded only when a cloud is configured:
  // an agent without one never connects anywhere, and the module costs RSS (docs/PERFORMANCE.md).
  const Sync = config.cloudUrl ? await loadSyncService() : undefined;
  await Deno.mkdir(config.dataDir, { recursive: true });
  const handle = openSqlite<AgentDatabase>(join(config.dataDir, AGENT_DB_FILE));
  const store = new AgentStore(handle.db, handle.raw);
  let isReady = false;
  const metrics = new MetricsRegistry();
  // Configured values, overridden by the desired state applied last (see below).
  const settings = new RuntimeSettings(
    { logLevel: config.logLevel, retentionDays: config.retentionDays },
    logger,
  );
  const sync = Sync && config.cloudUrl
    ? new Sync({
      store,
      logger: logger.child({ component: "sync" }),
      deviceId: config.deviceId,
      dataDir: config.dataDir,
      cloudUrl: config.cloudUrl,
      enrollToken: config.enrollToken,
      mqttUrls: config.mqttUrls,
      mqttCa: config.mqttCa,
      mqttAllowPlaintext: config.mqttAllowPlaintext,
      version: VERSION,
      tracing,
      labels: config.labels,
      settings,
    })
    : undefined;
  const missing = () =>
    missingSecrets({
      apiToken: config.apiToken,
      needsEnrollToken: sync?.needsEnrollToken() ?? false,
    });
  registerSecretMetrics(metrics, missing);
  const connection = sync ? () => sync.connection() : unenrolledConnection;
  registerAgentMetrics(metrics, {
    store,
    version: VERSION,
    dataDir: config.dataDir,
    isReady: () => isReady,
    connection,
    publisher: sync?.publisher,
    mqttCa: config.mqttCa,
  });
  const session = config.apiToken ? createSessionAuth({ secret: config.apiToken }) : undefined;
  const assets = await loadAssets({ logger: logger.child({ component: "ui" }) });
  const ui = createAgentUi({
    store,
    deviceId: config.deviceId,
    version: VERSION,
    assets,
    session,
    isReady: () => isReady,
    retentionDays: () => settings.retentionDays,
    syncStatus: async () => ({ ...(await store.outboxStats()), ...connection() }),
    enrollment: async () => {
      const credentials = await loadCredentials(config.dataDir);
      return {
        configuredCloudUrl: config.cloudUrl,
        enrolled: credentials !== undefined,
        cloudUrl: credentials?.cloudUrl,
        enrolledAt: credentials?.enrolledAt,
        brokerUrl: (config.mqttUrls ?? (credentials && brokerUrls(credentials.mqtt)))?.join(", "),
      };
    },
  });
  const app = createAgentApp({
    store,
    logger,
    metrics,
    version: VERSION,
    deviceId: config.deviceId,
    apiToken: config.apiToken,
    isReady: () => isReady,
    connection,
    timeWindow: { maxAgeMs: config.tsMaxAge, maxAheadMs: config.tsMaxAhead },
    missingSecrets: missing,
    ui,
    errorPage: createAgentErrorPage({ deviceId: config.deviceId, assets, session }),
    sessionAuth: session?.authorizesApiRequest,
    tracing,
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = listen({
      component: "agent",
      hostname: config.host,
      port: config.port,
      portSetting: "OUTPOST_PORT or --port",
      handler: app.fetch,
    });
  } catch (error) {
    await handle.close();
    throw error;
  }
  logger.info("agent listening", {
    url: `http://${config.host}:${server.addr.port}`,
    deviceId: config.deviceId,
    dataDir: config.dataDir,
    version: VERSION,
    auth: config.apiToken ? "bearer token for mutations" : "none",
  });
  warnAboutMissingApiToken(logger, config.apiToken);

  let retentionTimer: number | undefined;
  const ready = (async () => {
    const applied = await runMigrations(handle.db, agentMigrations);
    if (applied.length) logger.info("migrations applied", { migrations: applied });
    // The settings of the desired state applied last, before the cloud sends anything.
    const inForce = checkDesired(await store.appliedDesired());
    if (inForce.ok) settings.apply(inForce.settings);
    isReady = true;
    logger.info("agent ready", { pending: (await store.outboxStats()).pending });
    if (sync) await sync.start();
    else logger.info("no OUTPOST_CLOUD_URL: running unenrolled, writes queue in the outbox");
    const prune = async () => {
      try {
        const days = settings.retentionDays;
        const removed = await store.pruneExpired(days);
        if (removed) logger.info("retention pruned rows", { removed, days });
        await store.pruneIdempotencyKeys();
      } catch (error) {
        logger.warn("retention pass failed", { error });
      }
    };
    await prune();
    // Node's typings (pulled in by npm packages) widen the timer type; Deno's id is a number.
    const timer = setInterval(prune, RETENTION_INTERVAL_MS) as unknown as number;
    Deno.unrefTimer(timer);
    retentionTimer = timer;
  })();

  let stopping: Promise<void> | undefined;
  return {
    addr: server.addr,
    store,
    sync,
    ready,
    stop() {
      stopping ??= (async () => {
        clearInterval(retentionTimer);
        await server.shutdown();
        await ready.catch(() => {});
        await sync?.stop();
        await handle.close();
        logger.info("agent stopped");
      })();
      return stopping;
    },
  };
}
