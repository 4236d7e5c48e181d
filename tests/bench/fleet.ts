/**
 * Fleet benchmarks for `deno task bench`: the device list at scale (a cloud process on a
 * database holding N devices with labels, libSQL or PostgreSQL; open-loop latency of
 * `GET /api/v1/devices` with a selector against `GET /healthz` of the same process at the same
 * rate), and a rollout and a job over a simulated fleet (`sim.ts --fleet-ops`).
 * @module
 */
import { type Insertable, sql } from "kysely";
import { openCloudStore } from "@outpost/cloud/store/open";
import type { CloudDatabase } from "@outpost/cloud/store/schema";
import { startPostgres } from "../support/postgres.ts";
import { type CloudHandle, startCloud, TEST_ADMIN_TOKEN } from "../support/stack.ts";
import { type OpenLoopResult, runOpenLoop } from "./load.ts";
import { runSim, type SimResult } from "./sim.ts";
import { type Backend, componentPid, rssOf } from "./sync.ts";

/** Sites, roles and tiers the seeded fleet is spread over. */
const SITES = ["berlin", ...Array.from({ length: 19 }, (_, i) => `site-${i + 1}`)];
const ROLES = ["gateway", "sensor", "camera"];
const TIERS = ["a", "b", "c", "d"];

/** The selector the list is measured with (~3.3% of the fleet: one site, two roles of three). */
export const LIST_SELECTOR = "site=berlin,role!=gateway";

/** Labels of seeded device `i`. */
export function seededLabels(i: number): Record<string, string> {
  return {
    site: SITES[i % SITES.length],
    role: ROLES[Math.floor(i / SITES.length) % ROLES.length],
    tier: TIERS[Math.floor(i / (SITES.length * ROLES.length)) % TIERS.length],
  };
}

/** Writes `count` devices with labels straight into a migrated cloud database (then ANALYZE). */
export async function seedDevices(
  location: { kind: "sqlite"; path: string } | { kind: "postgres"; url: string },
  count: number,
): Promise<void> {
  const opened = await openCloudStore(location);
  try {
    const db = opened.store.db;
    const now = Date.now();
    for (let from = 0; from < count; from += 1000) {
      const devices: Insertable<CloudDatabase["devices"]>[] = [];
      const labels: CloudDatabase["device_labels"][] = [];
      for (let i = from; i < Math.min(count, from + 1000); i++) {
        const id = `dev-${String(i).padStart(6, "0")}`;
        const own = seededLabels(i);
        devices.push({
          id,
          password_hash: null,
          labels: JSON.stringify(own),
          arch: "aarch64",
          version: "1.0.0",
          enrolled_at: now,
          online: i % 10 === 0 ? 0 : 1,
          last_seen: now,
          acked_seq: 1000,
          last_seq: i % 97 === 0 ? 5000 : 1000,
        });
        for (const [key, value] of Object.entries(own)) labels.push({ device_id: id, key, value });
      }
      await db.transaction().execute(async (tx) => {
        await tx.insertInto("devices").values(devices).execute();
        await tx.insertInto("device_labels").values(labels).execute();
      });
    }
    // A database that has lived a while has statistics; a freshly loaded one must get them.
    await sql`ANALYZE`.execute(db);
  } finally {
    await opened.handle.close();
  }
}

/** Result of {@link deviceListBench}. */
export interface DeviceListResult {
  devices: number;
  /** First page with {@link LIST_SELECTOR} (and its counts). */
  selector: OpenLoopResult;
  /** A page in the middle of the selector's matches (keyset: as cheap as the first). */
  selectorDeep: OpenLoopResult;
  /** First page of the whole fleet (counts over every device). */
  unfiltered: OpenLoopResult;
  /** `GET /healthz` of the same process at the same rate. */
  baseline: OpenLoopResult;
  matches: number;
  seedMs: number;
  cloudRssBytes: number;
}

/**
 * Seeds `devices` devices on `backend`, starts `deno task cloud` on that database and measures
 * the list open-loop at `rate` requests per second for `durationMs` per query.
 */
export async function deviceListBench(
  backend: Backend,
  devices: number,
  options: { rate: number; durationMs: number },
): Promise<DeviceListResult> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    let env: Record<string, string>;
    let location: Parameters<typeof seedDevices>[0];
    if (backend === "postgres") {
      const server = await startPostgres();
      cleanups.push(() => server.stop());
      const url = await server.createDatabase("fleet");
      location = { kind: "postgres", url };
      env = { DATABASE_URL: url };
    } else {
      const dir = await Deno.makeTempDir({ prefix: "outpost-bench-fleet-" });
      cleanups.push(() => Deno.remove(dir, { recursive: true }));
      location = { kind: "sqlite", path: `${dir}/cloud.db` };
      env = { DATABASE_URL: `file:${dir}/cloud.db` };
    }
    const seedStart = performance.now();
    await seedDevices(location, devices);
    const seedMs = performance.now() - seedStart;
    const cloud: CloudHandle = await startCloud({ env: { ...env, OUTPOST_LOG_LEVEL: "warn" } });
    cleanups.push(() =>
      cloud.process.stop().then(() => Deno.remove(cloud.dataDir, { recursive: true }))
    );
    const auth = () => ({ headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    const selectorQuery = `selector=${encodeURIComponent(LIST_SELECTOR)}`;
    const counted = await cloud.admin<{ counts: { total: number } }>(
      `/api/v1/devices?limit=1&${selectorQuery}`,
    );
    if (counted.status !== 200) throw new Error(`the list answered ${counted.status}`);
    // The cursor after the first half of the matches (or 1,000 of them, the most a page holds).
    const half = Math.min(1000, Math.max(1, Math.floor(counted.body.counts.total / 2)));
    const first = await cloud.admin<{ counts: { total: number }; nextCursor: string | null }>(
      `/api/v1/devices?limit=${half}&${selectorQuery}`,
    );
    if (first.status !== 200) throw new Error(`the list answered ${first.status}`);
    const deep = first.body.nextCursor ? `&cursor=${first.body.nextCursor}` : "";
    const load = (path: string, init?: () => RequestInit) =>
      runOpenLoop(`${cloud.url}${path}`, { ...options, init });
    // Warm-up: the first requests pay for compiling and caching.
    for (let i = 0; i < 20; i++) {
      await fetch(`${cloud.url}/api/v1/devices?limit=100&${selectorQuery}`, auth())
        .then((r) => r.arrayBuffer());
    }
    const baseline = await load("/healthz");
    const selector = await load(`/api/v1/devices?limit=100&${selectorQuery}`, auth);
    const selectorDeep = await load(`/api/v1/devices?limit=100&${selectorQuery}${deep}`, auth);
    const unfiltered = await load("/api/v1/devices?limit=100", auth);
    const pid = await componentPid(cloud.process.pid, "cloud/main.ts");
    return {
      devices,
      selector,
      selectorDeep,
      unfiltered,
      baseline,
      matches: first.body.counts.total,
      seedMs,
      cloudRssBytes: await rssOf(pid),
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

/** A rollout and a job over `devices` simulated devices (embedded broker, libSQL). */
export async function fleetOpsBench(devices: number): Promise<SimResult> {
  return await runSim({
    devices,
    rate: 0,
    durationS: 0,
    labels: "site=berlin|paris|oslo,role=gateway|sensor",
    fleetOps: true,
    concurrency: 200,
    quiet: false,
  });
}
