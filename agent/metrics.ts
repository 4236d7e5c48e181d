/**
 * The agent's own series on its `/metrics`: what one device's dashboard and alerts need (sync
 * state, backlog and its age, the last ack, disk, the broker CA's expiry). The device is named
 * by the scrape's target labels (the PodMonitor's `device` label), not by a label here.
 * @module
 */
import { registerCertificateMetrics, registerDiskMetrics } from "@outpost/platform/host_metrics";
import type { MetricsRegistry } from "@outpost/platform/metrics";
import type { AgentStore } from "./store/store.ts";
import { SYNC_STATES, type SyncConnection } from "./sync/state.ts";
import type { OutboxPublisher } from "./sync/publisher.ts";

/** What {@link registerAgentMetrics} reads at scrape time. */
export interface AgentMetricsOptions {
  store: Pick<AgentStore, "outboxStats" | "oldestPendingAt">;
  version: string;
  dataDir: string;
  isReady: () => boolean;
  connection: () => SyncConnection;
  /** The publisher's counters, when a cloud is configured. */
  publisher?: Pick<OutboxPublisher, "stats">;
  /** The broker CA file (`OUTPOST_MQTT_CA`), whose expiry is reported as `mqtt_ca`. */
  mqttCa?: string;
  now?: () => number;
}

/** Registers the agent's series. */
export function registerAgentMetrics(
  metrics: MetricsRegistry,
  options: AgentMetricsOptions,
): void {
  const now = options.now ?? Date.now;
  const { store, isReady, publisher } = options;
  metrics.gauge("outpost_build_info", "Always 1; the labels say what runs.", (gauge) => {
    gauge.set(1, { component: "agent", version: options.version });
  });
  metrics.gauge("outpost_ready", "1 once the database is open and migrated.", (gauge) => {
    gauge.set(isReady() ? 1 : 0);
  });
  metrics.gauge(
    "outpost_sync_state",
    "1 for the sync state the agent is in (unenrolled, connecting, online, offline, pending_approval, refused), else 0.",
    (gauge) => {
      const current = options.connection().state;
      for (const state of SYNC_STATES) gauge.set(state === current ? 1 : 0, { state });
    },
  );
  metrics.gauge("outpost_sync_online", "1 while connected to the broker.", (gauge) => {
    gauge.set(options.connection().state === "online" ? 1 : 0);
  });
  metrics.gauge(
    "outpost_outbox_oldest_pending_age_seconds",
    "Age of the oldest record the cloud has not acked (the upload lag); 0 when none is pending.",
    async (gauge) => {
      if (!isReady()) return;
      const oldest = await store.oldestPendingAt();
      gauge.set(oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000));
    },
  );
  metrics.gauge(
    "outpost_sync_last_ack_timestamp_seconds",
    "When the cloud's last ack was stored, in seconds since the epoch (absent before the first).",
    async (gauge) => {
      if (!isReady()) return;
      const { lastAckAt } = await store.outboxStats();
      if (lastAckAt) gauge.set(Date.parse(lastAckAt) / 1000);
    },
  );
  if (publisher) {
    metrics.counter(
      "outpost_sync_records_sent_total",
      "Outbox records published, resends included.",
      (counter) => counter.set(publisher.stats.recordsSent),
    );
    metrics.counter(
      "outpost_sync_batches_sent_total",
      "Batches published, resends included.",
      (counter) => counter.set(publisher.stats.batchesSent),
    );
    metrics.counter(
      "outpost_sync_resends_total",
      "Times the publisher resent from the acked seq (no ack in time, or a failed publish).",
      (counter) => counter.set(publisher.stats.resends),
    );
  }
  registerDiskMetrics(metrics, options.dataDir);
  registerCertificateMetrics(metrics, options.mqttCa ? { mqtt_ca: options.mqttCa } : {});
}
