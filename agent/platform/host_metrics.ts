/**
 * Metrics about the machine a component runs on, read at scrape time: free space of the
 * filesystem holding the data dir, and the expiry of TLS certificates read from files.
 * @module
 */
import type { MetricsRegistry } from "./metrics.ts";

/** Registers `outpost_disk_free_bytes` and `outpost_disk_size_bytes` of `path`'s filesystem. */
export function registerDiskMetrics(registry: MetricsRegistry, path: string): void {
  // Both gauges come from one statfs per scrape.
  let last: Promise<{ free: number; size: number } | undefined> | undefined;
  const read = () =>
    // node:fs is loaded at the first scrape, not at start (idle RSS).
    last ??= import("node:fs/promises").then(({ statfs }) => statfs(path)).then(
      (stats) => ({ free: stats.bavail * stats.bsize, size: stats.blocks * stats.bsize }),
      () => undefined,
    ).finally(() => setTimeout(() => last = undefined, 0));
  registry.gauge(
    "outpost_disk_free_bytes",
    "Bytes available to the component on the filesystem of its data dir.",
    async (gauge) => {
      const stats = await read();
      if (stats) gauge.set(stats.free);
    },
  );
  registry.gauge(
    "outpost_disk_size_bytes",
    "Size in bytes of the filesystem of the data dir.",
    async (gauge) => {
      const stats = await read();
      if (stats) gauge.set(stats.size);
    },
  );
}

/**
 * When a PEM certificate stops being valid, in ms since the epoch (the first certificate).
 * node:crypto is loaded on the first call only: most agents watch no certificate.
 */
export async function certificateNotAfter(pem: string): Promise<number> {
  const { X509Certificate } = await import("node:crypto");
  return Date.parse(new X509Certificate(pem).validTo);
}

/**
 * Registers `outpost_certificate_expiry_timestamp_seconds{certificate}` and
 * `outpost_certificate_readable{certificate}` for each named PEM file, read at every scrape
 * (a renewed certificate is seen without a restart). An unreadable file reports readable 0 and
 * no expiry.
 */
export function registerCertificateMetrics(
  registry: MetricsRegistry,
  files: Record<string, string>,
): void {
  const names = Object.keys(files);
  if (names.length === 0) return;
  let last: Promise<Map<string, number | undefined>> | undefined;
  const read = () =>
    last ??= Promise.all(names.map(async (name) => {
      try {
        return [name, await certificateNotAfter(await Deno.readTextFile(files[name]))] as const;
      } catch {
        return [name, undefined] as const;
      }
    })).then((entries) => new Map(entries)).finally(() => setTimeout(() => last = undefined, 0));
  registry.gauge(
    "outpost_certificate_expiry_timestamp_seconds",
    "When the certificate stops being valid (notAfter), in seconds since the epoch.",
    async (gauge) => {
      for (const [certificate, notAfter] of await read()) {
        if (notAfter !== undefined && !isNaN(notAfter)) {
          gauge.set(notAfter / 1000, { certificate });
        }
      }
    },
  );
  registry.gauge(
    "outpost_certificate_readable",
    "1 when the certificate file could be read and parsed, else 0.",
    async (gauge) => {
      for (const [certificate, notAfter] of await read()) {
        gauge.set(notAfter !== undefined && !isNaN(notAfter) ? 1 : 0, { certificate });
      }
    },
  );
}
