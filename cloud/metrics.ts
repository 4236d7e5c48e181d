/**
 * The cloud's fleet-level series on its `/metrics`. Nothing here has a per-device label: at
 * 100,000 devices the series count stays the same (per-device series come from each agent's
 * own `/metrics`). Every replica reports the same fleet figures (dashboards take `max`).
 * @module
 */
import { registerCertificateMetrics, registerDiskMetrics } from "@outpost/platform/host_metrics";
import type { Gauge, MetricsRegistry } from "@outpost/platform/metrics";
import type { BrokerLink } from "./broker/link.ts";
import type { FleetStats } from "./store/store.ts";
import type { CloudStore } from "./store/store.ts";

/** The offline durations `outpost_devices_offline_longer_than` counts, in seconds. */
export const OFFLINE_THRESHOLDS_S = [300, 3600, 86_400, 604_800] as const;

/** How long one fleet scan serves scrapes (several Prometheus replicas, several gauges). */
const FLEET_STATS_TTL_MS = 10_000;

/** What {@link registerCloudMetrics} reads at scrape time. */
export interface CloudMetricsOptions {
  store: Pick<CloudStore, "fleetStats">;
  version: string;
  dataDir: string;
  isReady: () => boolean;
  link?: Pick<BrokerLink, "connected">;
  /** Certificates whose expiry to report, by name (`OUTPOST_CERT_FILES`). */
  certFiles: Record<string, string>;
  now?: () => number;
}

/** Registers the cloud's fleet series. */
export function registerCloudMetrics(
  metrics: MetricsRegistry,
  options: CloudMetricsOptions,
): void {
  const now = options.now ?? Date.now;
  let cached: { at: number; stats: Promise<FleetStats> } | undefined;
  function fleet(): Promise<FleetStats> {
    const at = now();
    if (!cached || at - cached.at > FLEET_STATS_TTL_MS) {
      const stats = options.store.fleetStats(at, OFFLINE_THRESHOLDS_S.map((s) => s * 1000));
      cached = { at, stats };
      stats.catch(() => cached = undefined);
    }
    return cached.stats;
  }
  function fleetGauge(name: string, help: string, set: (g: Gauge, s: FleetStats) => void) {
    metrics.gauge(name, help, async (gauge) => {
      if (options.isReady()) set(gauge, await fleet());
    });
  }

  metrics.gauge("outpost_build_info", "Always 1; the labels say what runs.", (gauge) => {
    gauge.set(1, { component: "cloud", version: options.version });
  });
  metrics.gauge("outpost_ready", "1 once migrations are done and the ingest runs.", (gauge) => {
    gauge.set(options.isReady() ? 1 : 0);
  });
  fleetGauge("outpost_devices", "Enrolled devices by presence state (online, offline).", (g, s) => {
    g.set(s.online, { state: "online" });
    g.set(s.offline, { state: "offline" });
  });
  fleetGauge(
    "outpost_devices_offline_longer_than",
    "Offline devices not seen for longer than `seconds` (300, 3600, 86400, 604800).",
    (g, s) => {
      for (const entry of s.offlineLongerThan) {
        g.set(entry.devices, { seconds: String(entry.ms / 1000) });
      }
    },
  );
  fleetGauge(
    "outpost_devices_lagging",
    "Devices with records they reported but the cloud has not acked.",
    (g, s) => g.set(s.lagging),
  );
  fleetGauge(
    "outpost_fleet_backlog_records",
    "Records devices reported (last seq) that the cloud has not acked, summed over the fleet.",
    (g, s) => g.set(s.backlogRecords),
  );
  fleetGauge(
    "outpost_fleet_backlog_max_records",
    "The largest backlog of one device, in records.",
    (g, s) => g.set(s.backlogMaxRecords),
  );
  const link = options.link;
  if (link?.connected) {
    metrics.gauge(
      "outpost_broker_connected",
      "1 while the cloud's connection to the MQTT broker is up.",
      (gauge) => gauge.set(link.connected!() ? 1 : 0),
    );
  }
  registerDiskMetrics(metrics, options.dataDir);
  registerCertificateMetrics(metrics, options.certFiles);
}
