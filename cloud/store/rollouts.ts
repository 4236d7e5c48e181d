/**
 * The rollouts' tables: a rollout, its waves and its targets (fixed when it is created, in SQL
 * from the selector, never by loading the fleet). What a wave does to a device is decided by the
 * caller (`fleet/rollouts.ts`) through {@link RolloutStore.stepTargets}; this module keeps the
 * rows consistent: a target moves only from the states the caller names, together with its
 * device's desired state, in one transaction.
 * @module
 */
import { type Kysely, sql, type Transaction } from "kysely";
import type { DesiredChange, DesiredState } from "../fleet/desired_patch.ts";
import type { Selector } from "../fleet/selector.ts";
import { deviceFilterExpression } from "./device_query.ts";
import { type StoreDialect, writeTransaction } from "./dialect.ts";
import { iso } from "./rows.ts";
import type {
  CloudDatabase,
  RolloutsTable,
  RolloutState,
  RolloutWavesTable,
  TargetState,
  WaveState,
} from "./schema.ts";

/** One wave as asked for: the cumulative share of targets reached, and the bake after it. */
export interface WaveSpec {
  percent: number;
  bakeSeconds: number;
}

/** A rollout to create. */
export interface NewRollout {
  name: string;
  selector: Selector;
  patch: DesiredState;
  waves: WaveSpec[];
  failureThresholdPercent: number;
  applyTimeoutSeconds: number;
  now: number;
}

/** A rollback to create: the devices the original changed, one wave. */
export interface NewRollback {
  originalId: string;
  name: string;
  applyTimeoutSeconds: number;
  now: number;
}

/** Counts of a rollout's (or one wave's) targets. */
export interface TargetCounts {
  targeted: number;
  /** Not answered yet, device online (including targets of waves not started). */
  pending: number;
  applied: number;
  failed: number;
  /** Not answered yet, device offline: it gets the change when it reconnects. */
  offline: number;
  /** Withdrawn (or never sent) because the rollout was aborted. */
  cancelled: number;
}

/** A wave as read back. */
export interface WaveView {
  index: number;
  percent: number;
  bakeSeconds: number;
  size: number;
  state: WaveState;
  startedAt: string | null;
  /** When every target that was online had answered (its bake starts then). */
  answeredAt: string | null;
  completedAt: string | null;
  counts: TargetCounts;
  /** Targets of this wave not dispatched yet. */
  waiting: number;
  /** Targets of this wave sent and unanswered whose device is online. */
  pendingOnline: number;
}

/** A rollout as read back. */
export interface RolloutView {
  id: string;
  name: string;
  kind: "rollout" | "rollback";
  selector: string;
  desired: DesiredState;
  state: RolloutState;
  failureThresholdPercent: number;
  applyTimeoutSeconds: number;
  rollbackOf: string | null;
  rolledBackBy: string | null;
  reason: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  counts: TargetCounts;
  waves: WaveView[];
}

/** The device side of a target, as {@link RolloutStore.stepTargets} hands it to the plan. */
export interface TargetDevice {
  id: string;
  desired: DesiredState;
  desiredVersion: number;
  appliedVersion: number;
  /** When a per-device PUT last set each key (ms). */
  pins: Record<string, number>;
}

/** The target side, as {@link RolloutStore.stepTargets} hands it to the plan. */
export interface TargetView {
  deviceId: string;
  wave: number;
  state: TargetState;
  version: number | null;
  changes: DesiredChange[] | null;
  restore: DesiredChange[] | null;
}

/** What to do with one target; undefined from the plan leaves it as it is. */
export interface TargetStep {
  state: TargetState;
  /** The device's new desired state (a new version), or none (the device keeps its version). */
  desired?: DesiredState;
  changes?: DesiredChange[];
  reason?: string | null;
}

/** A device whose desired state a step changed: what to publish. */
export interface DesiredSent {
  deviceId: string;
  version: number;
  desired: DesiredState;
}

/** Rows per statement when reading targets or devices by id (bind parameters stay low). */
export const TARGET_CHUNK = 500;

function emptyCounts(): TargetCounts {
  return { targeted: 0, pending: 0, applied: 0, failed: 0, offline: 0, cancelled: 0 };
}

function addCount(counts: TargetCounts, state: TargetState, online: boolean, n: number): void {
  counts.targeted += n;
  if (state === "waiting" || state === "pending") {
    if (online) counts.pending += n;
    else counts.offline += n;
  } else {
    counts[state] += n;
  }
}

/** Wave `i` of `waves` takes targets up to this rank (1-based, cumulative). */
export function waveEnds(waves: WaveSpec[], total: number): number[] {
  return waves.map((wave, i) =>
    i === waves.length - 1 ? total : Math.min(total, Math.ceil((total * wave.percent) / 100))
  );
}

/** Rollouts, their waves and their targets. */
export class RolloutStore {
  readonly #db: Kysely<CloudDatabase>;
  readonly #dialect: StoreDialect;

  constructor(db: Kysely<CloudDatabase>, dialect: StoreDialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  /**
   * Creates a rollout and fixes its targets: every device the selector matches now, put into
   * waves by id (the first `percent` of them in wave 0, and so on). With no target it is
   * `succeeded` at once.
   */
  async create(spec: NewRollout): Promise<{ id: string; targeted: number }> {
    const id = crypto.randomUUID();
    return await writeTransaction(this.#db, this.#dialect, async (tx) => {
      const total = Number(
        (await tx.selectFrom("devices").select(sql<number | string>`count(*)`.as("n"))
          .where((eb) =>
            deviceFilterExpression(eb, { selector: spec.selector, activeOnly: true }, this.#dialect)
          )
          .executeTakeFirstOrThrow()).n,
      );
      await tx.insertInto("rollouts").values({
        id,
        name: spec.name,
        kind: "rollout",
        selector: spec.selector.text,
        patch: JSON.stringify(spec.patch),
        state: "running",
        failure_threshold_percent: spec.failureThresholdPercent,
        apply_timeout_seconds: spec.applyTimeoutSeconds,
        targeted: 0,
        rollback_of: null,
        rolled_back_by: null,
        reason: null,
        created_at: spec.now,
        updated_at: spec.now,
        finished_at: null,
      }).execute();
      const ends = waveEnds(spec.waves, total);
      // The wave of the n-th device by id; one enrolled since the count joins the last wave.
      const waveOf = sql<number>`CASE ${
        sql.join(
          ends.slice(0, -1).map((end, i) =>
            sql`WHEN ranked.rn <= ${sql.lit(end)} THEN ${sql.lit(i)}`
          ),
          sql` `,
        )
      } ELSE ${sql.lit(ends.length - 1)} END`;
      const ranked = tx.selectFrom("devices")
        .select(["devices.id", sql<number>`row_number() OVER (ORDER BY devices.id)`.as("rn")])
        .where((eb) =>
          deviceFilterExpression(eb, { selector: spec.selector, activeOnly: true }, this.#dialect)
        )
        .as("ranked");
      await tx.insertInto("rollout_targets")
        .columns(["rollout_id", "device_id", "wave", "state", "updated_at"])
        .expression(
          tx.selectFrom(ranked).select([
            sql<string>`CAST(${id} AS text)`.as("rollout_id"),
            "ranked.id",
            ends.length === 1 ? sql<number>`0`.as("wave") : waveOf.as("wave"),
            sql<string>`'waiting'`.as("state"),
            sql<number>`CAST(${spec.now} AS bigint)`.as("updated_at"),
          ]),
        ).execute();
      const targeted = await this.#writeWaves(tx, id, spec.waves, spec.now);
      return { id, targeted };
    });
  }

  /** Inserts the waves with their sizes and the rollout's target count; ends it if empty. */
  async #writeWaves(
    tx: Transaction<CloudDatabase>,
    id: string,
    waves: WaveSpec[],
    now: number,
  ): Promise<number> {
    const sizes = new Map<number, number>();
    for (
      const row of await tx.selectFrom("rollout_targets")
        .select(["wave", sql<number | string>`count(*)`.as("n")])
        .where("rollout_id", "=", id).groupBy("wave").execute()
    ) sizes.set(row.wave, Number(row.n));
    const targeted = [...sizes.values()].reduce((a, b) => a + b, 0);
    await tx.insertInto("rollout_waves").values(waves.map((wave, i) => ({
      rollout_id: id,
      wave: i,
      percent: wave.percent,
      bake_seconds: wave.bakeSeconds,
      size: sizes.get(i) ?? 0,
      state: "waiting" as const,
      started_at: null,
      answered_at: null,
      completed_at: null,
    }))).execute();
    await tx.updateTable("rollouts").set({
      targeted,
      ...(targeted === 0 ? { state: "succeeded" as const, finished_at: now } : {}),
    }).where("id", "=", id).execute();
    return targeted;
  }

  /**
   * Creates the rollback of `originalId`: one wave over the devices the original changed (its
   * applied and failed targets), each restoring what the original changed on it. Marks the
   * original rolled back.
   * @returns undefined when the original does not exist or was already rolled back.
   */
  async createRollback(spec: NewRollback): Promise<{ id: string; targeted: number } | undefined> {
    const id = crypto.randomUUID();
    return await writeTransaction(this.#db, this.#dialect, async (tx) => {
      const marked = await tx.updateTable("rollouts")
        .set({ rolled_back_by: id, updated_at: spec.now })
        .where("id", "=", spec.originalId).where("rolled_back_by", "is", null)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return undefined;
      const original = await tx.selectFrom("rollouts").select("selector")
        .where("id", "=", spec.originalId).executeTakeFirstOrThrow();
      await tx.insertInto("rollouts").values({
        id,
        name: spec.name,
        kind: "rollback",
        selector: original.selector,
        patch: "{}",
        state: "running",
        // A rollback goes back to what worked: it does not stop at failures.
        failure_threshold_percent: 100,
        apply_timeout_seconds: spec.applyTimeoutSeconds,
        targeted: 0,
        rollback_of: spec.originalId,
        rolled_back_by: null,
        reason: null,
        created_at: spec.now,
        updated_at: spec.now,
        finished_at: null,
      }).execute();
      await tx.insertInto("rollout_targets")
        .columns(["rollout_id", "device_id", "wave", "state", "restore", "updated_at"])
        .expression(
          tx.selectFrom("rollout_targets").select([
            sql<string>`CAST(${id} AS text)`.as("rollout_id"),
            "device_id",
            sql<number>`0`.as("wave"),
            sql<string>`'waiting'`.as("state"),
            "changes",
            sql<number>`CAST(${spec.now} AS bigint)`.as("updated_at"),
          ])
            .where("rollout_id", "=", spec.originalId)
            .where("state", "in", ["applied", "failed"])
            .where("changes", "is not", null),
        ).execute();
      const targeted = await this.#writeWaves(tx, id, [{ percent: 100, bakeSeconds: 0 }], spec.now);
      return { id, targeted };
    });
  }

  /** One rollout with its waves and counts. */
  async get(id: string): Promise<RolloutView | undefined> {
    const row = await this.#db.selectFrom("rollouts").selectAll().where("id", "=", id)
      .executeTakeFirst();
    if (!row) return undefined;
    return await this.#view(row);
  }

  async #view(row: RolloutsTable): Promise<RolloutView> {
    const [waves, groups] = await Promise.all([
      this.#db.selectFrom("rollout_waves").selectAll().where("rollout_id", "=", row.id)
        .orderBy("wave").execute(),
      this.#db.selectFrom("rollout_targets")
        .innerJoin("devices", "devices.id", "rollout_targets.device_id")
        .select([
          "rollout_targets.wave",
          "rollout_targets.state",
          "devices.online",
          sql<number | string>`count(*)`.as("n"),
        ])
        .where("rollout_targets.rollout_id", "=", row.id)
        .groupBy(["rollout_targets.wave", "rollout_targets.state", "devices.online"])
        .execute(),
    ]);
    const counts = emptyCounts();
    const perWave = waves.map(() => ({ counts: emptyCounts(), waiting: 0, pendingOnline: 0 }));
    for (const group of groups) {
      const n = Number(group.n);
      const online = Number(group.online) === 1;
      addCount(counts, group.state, online, n);
      const wave = perWave[group.wave];
      if (!wave) continue;
      addCount(wave.counts, group.state, online, n);
      if (group.state === "waiting") wave.waiting += n;
      if (group.state === "pending" && online) wave.pendingOnline += n;
    }
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      selector: row.selector,
      desired: JSON.parse(row.patch),
      state: row.state,
      failureThresholdPercent: Number(row.failure_threshold_percent),
      applyTimeoutSeconds: row.apply_timeout_seconds,
      rollbackOf: row.rollback_of,
      rolledBackBy: row.rolled_back_by,
      reason: row.reason,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      finishedAt: row.finished_at === null ? null : iso(row.finished_at),
      counts,
      waves: waves.map((wave: RolloutWavesTable, i) => ({
        index: wave.wave,
        percent: Number(wave.percent),
        bakeSeconds: wave.bake_seconds,
        size: wave.size,
        state: wave.state,
        startedAt: wave.started_at === null ? null : iso(wave.started_at),
        answeredAt: wave.answered_at === null ? null : iso(wave.answered_at),
        completedAt: wave.completed_at === null ? null : iso(wave.completed_at),
        ...perWave[i],
      })),
    };
  }

  /** Rollouts newest first, `limit` per page, after the cursor of a previous page. */
  async list(
    query: { limit: number; after?: { createdAt: number; id: string } },
  ): Promise<{ items: RolloutView[]; next?: { createdAt: number; id: string } }> {
    let select = this.#db.selectFrom("rollouts").selectAll();
    const after = query.after;
    if (after) {
      select = select.where((eb) =>
        eb.or([
          eb("created_at", "<", after.createdAt),
          eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)]),
        ])
      );
    }
    const rows = await select.orderBy("created_at", "desc").orderBy("id", "desc")
      .limit(query.limit + 1).execute();
    const page = rows.slice(0, query.limit);
    const items = await Promise.all(page.map((row) => this.#view(row)));
    const last = page[page.length - 1];
    return {
      items,
      ...(rows.length > query.limit
        ? { next: { createdAt: Number(last.created_at), id: last.id } }
        : {}),
    };
  }

  /** Ids of the rollouts the driver advances: running or paused, or aborted with work left. */
  async active(): Promise<string[]> {
    const rows = await this.#db.selectFrom("rollouts").select("id")
      .where((eb) =>
        eb.or([
          eb("state", "in", ["running", "paused"]),
          eb.and([
            eb("state", "=", "aborted"),
            eb.exists(
              eb.selectFrom("rollout_targets").select(sql.lit(1).as("one"))
                .whereRef("rollout_targets.rollout_id", "=", "rollouts.id")
                .where("rollout_targets.state", "in", ["waiting", "pending"]),
            ),
          ]),
        ])
      )
      .orderBy("created_at").execute();
    return rows.map((row) => row.id);
  }

  /** The rollout's own row fields the driver needs (patch, created time). */
  async header(
    id: string,
  ): Promise<
    | { kind: "rollout" | "rollback"; patch: DesiredState; createdAt: number; state: RolloutState }
    | undefined
  > {
    const row = await this.#db.selectFrom("rollouts")
      .select(["kind", "patch", "created_at", "state"]).where("id", "=", id).executeTakeFirst();
    return row && {
      kind: row.kind,
      patch: JSON.parse(row.patch),
      createdAt: Number(row.created_at),
      state: row.state,
    };
  }

  /**
   * Moves a rollout from one of `from` to `to` (with the abort reason, and the finish time for a
   * final state). False when it was not in one of `from` (another replica or request won).
   */
  async transition(
    id: string,
    from: RolloutState[],
    to: RolloutState,
    options: { now: number; reason?: string },
  ): Promise<boolean> {
    const final = to === "succeeded" || to === "aborted";
    const result = await this.#db.updateTable("rollouts").set({
      state: to,
      updated_at: options.now,
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      ...(final ? { finished_at: options.now } : {}),
    }).where("id", "=", id).where("state", "in", from).executeTakeFirst();
    const moved = Number(result.numUpdatedRows) === 1;
    if (moved && to === "aborted") {
      await this.#db.updateTable("rollout_waves").set({ state: "skipped" })
        .where("rollout_id", "=", id).where("state", "=", "waiting").execute();
    }
    return moved;
  }

  /** Moves wave `wave` from `from` to `to`, setting the given times. False when it was not. */
  async transitionWave(
    id: string,
    wave: number,
    from: WaveState,
    to: WaveState,
    times: { startedAt?: number; answeredAt?: number; completedAt?: number },
  ): Promise<boolean> {
    const result = await this.#db.updateTable("rollout_waves").set({
      state: to,
      ...(times.startedAt !== undefined ? { started_at: times.startedAt } : {}),
      ...(times.answeredAt !== undefined ? { answered_at: times.answeredAt } : {}),
      ...(times.completedAt !== undefined ? { completed_at: times.completedAt } : {}),
    }).where("rollout_id", "=", id).where("wave", "=", wave).where("state", "=", from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Up to `limit` targets in `state` (of `wave`, when given), by device id. */
  async targetsIn(
    id: string,
    state: TargetState,
    options: { wave?: number; limit: number },
  ): Promise<string[]> {
    let select = this.#db.selectFrom("rollout_targets").select("device_id")
      .where("rollout_id", "=", id).where("state", "=", state);
    if (options.wave !== undefined) select = select.where("wave", "=", options.wave);
    const rows = await select.orderBy("device_id").limit(options.limit).execute();
    return rows.map((row) => row.device_id);
  }

  /**
   * Moves targets of `deviceIds` that are in one of `from`: `plan` decides each one's step from
   * its device and its row. One transaction: the devices are locked (PostgreSQL), a target only
   * moves if still in `from` (a concurrent replica may have moved it), and a new desired state
   * is stored with the target that carries it.
   * @returns the devices whose desired state changed, to publish.
   */
  async stepTargets(
    id: string,
    deviceIds: string[],
    from: TargetState[],
    plan: (device: TargetDevice, target: TargetView) => TargetStep | undefined,
    now: number,
  ): Promise<DesiredSent[]> {
    if (deviceIds.length === 0) return [];
    return await writeTransaction(this.#db, this.#dialect, async (tx) => {
      let devices = tx.selectFrom("devices")
        .select(["id", "desired", "desired_version", "applied_version", "desired_pins"])
        .where("id", "in", deviceIds).orderBy("id");
      if (this.#dialect === "postgres") devices = devices.forNoKeyUpdate();
      const byId = new Map((await devices.execute()).map((row) => [row.id, row]));
      const targets = await tx.selectFrom("rollout_targets").selectAll()
        .where("rollout_id", "=", id).where("device_id", "in", deviceIds)
        .where("state", "in", from).orderBy("device_id").execute();
      const sent: DesiredSent[] = [];
      for (const target of targets) {
        const row = byId.get(target.device_id);
        if (!row) continue;
        const device: TargetDevice = {
          id: row.id,
          desired: JSON.parse(row.desired),
          desiredVersion: row.desired_version,
          appliedVersion: row.applied_version,
          pins: JSON.parse(row.desired_pins),
        };
        const step = plan(device, {
          deviceId: target.device_id,
          wave: target.wave,
          state: target.state,
          version: target.version,
          changes: target.changes === null ? null : JSON.parse(target.changes),
          restore: target.restore === null ? null : JSON.parse(target.restore),
        });
        if (!step) continue;
        const version = step.desired ? device.desiredVersion + 1 : device.desiredVersion;
        const moved = await tx.updateTable("rollout_targets").set({
          state: step.state,
          version: step.state === "pending" || step.desired ? version : target.version,
          ...(step.changes ? { changes: JSON.stringify(step.changes) } : {}),
          ...(step.reason !== undefined ? { reason: step.reason } : {}),
          ...(step.state === "pending" ? { sent_at: now } : {}),
          updated_at: now,
        }).where("rollout_id", "=", id).where("device_id", "=", target.device_id)
          .where("state", "in", from).executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1 || !step.desired) continue;
        await tx.updateTable("devices")
          .set({ desired: JSON.stringify(step.desired), desired_version: version })
          .where("id", "=", device.id).execute();
        sent.push({ deviceId: device.id, version, desired: step.desired });
      }
      return sent;
    });
  }

  /** Moves every target in `from` to `to` (no device changes), e.g. waiting → cancelled. */
  async setTargets(
    id: string,
    from: TargetState,
    to: TargetState,
    options: { now: number; reason?: string },
  ): Promise<number> {
    const result = await this.#db.updateTable("rollout_targets")
      .set({ state: to, updated_at: options.now, reason: options.reason ?? null })
      .where("rollout_id", "=", id).where("state", "=", from).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Fails the unanswered targets whose device has been online, with the change sent, since
   * before `cutoff` (an agent that never answers must not hold a wave forever).
   */
  async failUnanswered(
    id: string,
    cutoff: number,
    options: { now: number; reason: string },
  ): Promise<number> {
    const result = await this.#db.updateTable("rollout_targets")
      .set({ state: "failed", reason: options.reason, updated_at: options.now })
      .where("rollout_id", "=", id)
      .where("state", "=", "pending")
      .where("sent_at", "<", cutoff)
      .where((eb) =>
        eb.exists(
          eb.selectFrom("devices").select(sql.lit(1).as("one"))
            .whereRef("devices.id", "=", "rollout_targets.device_id")
            .where("devices.online", "=", 1)
            .where((d) => d(sql`COALESCE(devices.online_since, 0)`, "<", cutoff)),
        )
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Unanswered targets of online devices last sent (or nudged) before `cutoff`, marked nudged
   * now, with the device's current desired state to publish again (a lost publish must not
   * leave a device without it while it stays connected).
   */
  async takeStale(id: string, cutoff: number, now: number, limit: number): Promise<DesiredSent[]> {
    const rows = await this.#db.selectFrom("rollout_targets")
      .innerJoin("devices", "devices.id", "rollout_targets.device_id")
      .select(["devices.id", "devices.desired", "devices.desired_version"])
      .where("rollout_targets.rollout_id", "=", id)
      .where("rollout_targets.state", "=", "pending")
      .where("devices.online", "=", 1)
      .where(sql`COALESCE(rollout_targets.nudged_at, rollout_targets.sent_at)`, "<", cutoff)
      .orderBy("devices.id").limit(limit).execute();
    if (rows.length === 0) return [];
    await this.#db.updateTable("rollout_targets").set({ nudged_at: now })
      .where("rollout_id", "=", id).where("device_id", "in", rows.map((row) => row.id))
      .execute();
    return rows.map((row) => ({
      deviceId: row.id,
      version: row.desired_version,
      desired: JSON.parse(row.desired),
    }));
  }

  /**
   * The changes of the running or paused rollouts that already reached the device (its target
   * was sent, whatever the answer), oldest rollout first: a per-device PUT keeps them for the
   * keys it does not set. Runs in the caller's transaction.
   */
  async activeChanges(
    tx: Transaction<CloudDatabase>,
    deviceId: string,
  ): Promise<DesiredChange[][]> {
    const rows = await tx.selectFrom("rollout_targets")
      .innerJoin("rollouts", "rollouts.id", "rollout_targets.rollout_id")
      .select("rollout_targets.changes")
      .where("rollout_targets.device_id", "=", deviceId)
      .where("rollout_targets.state", "in", ["pending", "applied", "failed"])
      .where("rollouts.state", "in", ["running", "paused"])
      .where("rollout_targets.changes", "is not", null)
      .orderBy("rollouts.created_at").execute();
    return rows.map((row) => JSON.parse(row.changes!));
  }
}
