/**
 * The cloud's lifecycle: open the database, serve HTTP, start the broker link, migrate, start
 * the ingest, become ready; and stop gracefully (finish HTTP requests, close the broker, let
 * the ingest finish, close the database).
 *
 * Only wiring: the broker library a configuration needs is loaded on demand by
 * `broker/select.ts` (aedes for the embedded broker, MQTT.js for an external one).
 * @module
 */
import type { Hono } from "hono";
import type { Logger } from "@outpost/platform/log";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { NO_TRACING, type Tracing } from "@outpost/platform/trace";
import { listen } from "@outpost/platform/serve";
import { VERSION } from "@outpost/platform/version";
import { loadAssets } from "@outpost/web/assets";
import { createFleetSessionAuth, createFleetUi } from "./ui/mod.ts";
import { Downlink } from "./broker/downlink.ts";
import { FleetDriver } from "./fleet/driver.ts";
import { FleetOperations } from "./fleet/operations.ts";
import { redactUrl } from "./broker/link.ts";
import { type BrokerSetup, startBroker } from "./broker/select.ts";
import type { CloudConfig } from "./config.ts";
import { createCloudApp } from "./http/app.ts";
import { createIngest, type Ingest } from "./ingest/ingest.ts";
import { registerCloudMetrics } from "./metrics.ts";
import { openCloudDatabase } from "./store/open.ts";
import type { CloudStore } from "./store/store.ts";
import { ensureToken } from "./tokens.ts";

/** A running cloud. */
export interface RunningCloud {
  /** The address the HTTP server listens on. */
  addr: Deno.NetAddr;
  /** The embedded broker's port; undefined with an external broker. */
  mqttPort?: number;
  /** The broker URL handed to devices at enrollment. */
  mqttPublicUrl: string;
  store: CloudStore;
  adminToken: string;
  enrollToken: string;
  /** Resolves once migrations are done and the ingest runs. */
  ready: Promise<void>;
  /** Graceful stop. */
  stop(): Promise<void>;
}

/** Options of {@link startCloud}. */
export interface StartCloudOptions {
  /** Routes mounted at `/` instead of the fleet console (`cloud/ui/`). */
  ui?: Hono;
  /** Spans of requests and of the ingest (default: off). */
  tracing?: Tracing;
}

function crashAfter(commits: number, logger: Logger): () => void {
  let count = 0;
  return () => {
    if (++count < commits) return;
    logger.warn("fault injection: killing the cloud after a commit, before its ack", { commits });
    Deno.kill(Deno.pid, "SIGKILL");
  };
}

/**
 * Starts the cloud described by `config`.
 * @throws ConfigError for an unreachable PostgreSQL, a bad token file or a port in use.
 */
export async function startCloud(
  config: CloudConfig,
  logger: Logger,
  options: StartCloudOptions = {},
): Promise<RunningCloud> {
  const database = await openCloudDatabase(config.database, {
    poolSize: config.dbPoolSize,
    logger: logger.child({ part: "database" }),
  });
  const store = database.store;
  const tracing = options.tracing ?? NO_TRACING;
  const metrics = new MetricsRegistry();
  let isReady = false;
  let broker: BrokerSetup | undefined;
  /** What enrollment hands out: OUTPOST_MQTT_PUBLIC_URL's URLs (joined by commas), in order. */
  let publicUrls: string[] = [];
  let server: Deno.HttpServer<Deno.NetAddr>;
  let downlink: Downlink;
  // Advances rollouts and jobs once the database is migrated.
  let driver: FleetDriver | undefined;
  let tokens: { admin: string; enroll: string };
  try {
    await Deno.mkdir(config.dataDir, { recursive: true });
    tokens = {
      admin: await ensureToken({
        given: config.adminToken,
        dataDir: config.dataDir,
        file: "admin-token",
        setting: "OUTPOST_ADMIN_TOKEN",
        logger,
      }),
      enroll: await ensureToken({
        given: config.enrollToken,
        dataDir: config.dataDir,
        file: "enroll-token",
        setting: "OUTPOST_ENROLL_TOKEN",
        logger,
      }),
    };
    broker = await startBroker(config, { store, isReady: () => isReady, logger, metrics });
    publicUrls = broker.publicUrl.split(",");
    downlink = new Downlink({ link: broker.link, store, logger });
    registerCloudMetrics(metrics, {
      store,
      version: VERSION,
      dataDir: config.dataDir,
      isReady: () => isReady,
      link: broker.link,
      certFiles: config.certFiles,
    });
    const fleetLogger = logger.child({ part: "fleet" });
    const fleet = new FleetOperations({
      store,
      downlink,
      provisioner: broker.provisioner,
      logger: fleetLogger,
      wake: () => driver?.kick(),
    });
    driver = new FleetDriver({ rollouts: fleet.rollouts, jobs: fleet.jobs, logger: fleetLogger });
    // The fleet console logs in with the admin token; its islands call the API with the session.
    const session = createFleetSessionAuth(tokens.admin);
    const ui = options.ui ?? createFleetUi({
      reads: store,
      fleet,
      logger: logger.child({ part: "ui" }),
      session,
      assets: await loadAssets({ logger: logger.child({ part: "ui" }) }),
      isReady: () => isReady,
    });
    const app = createCloudApp({
      store,
      fleet,
      provisioner: broker.provisioner,
      logger,
      metrics,
      version: VERSION,
      adminToken: tokens.admin,
      enrollToken: tokens.enroll,
      broker: {
        url: publicUrls[0],
        urls: publicUrls,
        protocolVersion: broker.link.protocolVersion,
        downlinkQos: broker.link.downlinkQos ?? 1,
      },
      isReady: () => isReady,
      ui,
      sessionAuth: session.authorizesApiRequest,
      tracing,
    });
    server = listen({
      component: "cloud",
      hostname: config.host,
      port: config.port,
      portSetting: "OUTPOST_PORT or --port",
      handler: app.fetch,
    });
  } catch (error) {
    await broker?.link.close().catch(() => {});
    await database.handle.close();
    throw error;
  }
  const { link } = broker;
  logger.info("cloud listening", {
    url: `http://${config.host}:${server.addr.port}`,
    database: database.describe,
    broker: broker.describe,
    mqttPublicUrls: publicUrls.map(redactUrl),
    version: VERSION,
  });

  let ingest: Ingest | undefined;
  const ready = (async () => {
    const applied = await database.migrate();
    if (applied.length) logger.info("migrations applied", { migrations: applied });
    // Nobody is connected to a broker that has just started.
    if (config.mqttUrl === undefined) await store.markAllOffline();
    ingest = createIngest({
      store,
      downlink,
      logger: logger.child({ part: "ingest" }),
      metrics,
      tracing,
      maxSeqGap: config.maxSeqGap,
      // The worst moment for exactly-once: after the commit, before the ack.
      afterCommit: config.faultCrashAfterCommits
        ? crashAfter(config.faultCrashAfterCommits, logger)
        : undefined,
    });
    await link.subscribeUplink(ingest.handle);
    link.onDeviceDisconnect?.(ingest.deviceDisconnected);
    driver?.start();
    isReady = true;
    logger.info("cloud ready");
  })();

  let stopping: Promise<void> | undefined;
  return {
    addr: server.addr,
    mqttPort: broker.mqttPort,
    mqttPublicUrl: broker.publicUrl,
    store,
    adminToken: tokens.admin,
    enrollToken: tokens.enroll,
    ready,
    stop() {
      stopping ??= (async () => {
        isReady = false;
        await server.shutdown();
        await ready.catch(() => {});
        await driver?.stop();
        await link.close();
        await ingest?.drain();
        await database.handle.close();
        logger.info("cloud stopped");
      })();
      return stopping;
    },
  };
}
