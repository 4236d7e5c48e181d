/**
 * The jobs' tables: a job is a row in `jobs` plus one command per targeted device in
 * `commands` (with `job_id`), created in SQL from the selector when the job is created. A job's
 * command waits as `scheduled` until the job's rate releases it to `queued`; from there it is an
 * ordinary command (delivered when its device is online, answered once).
 * @module
 */
import { type Kysely, sql } from "kysely";
import type { Selector } from "../fleet/selector.ts";
import { deviceFilterExpression } from "./device_query.ts";
import { type StoreDialect, writeTransaction } from "./dialect.ts";
import { type CommandView, iso, toCommand } from "./rows.ts";
import type { CloudDatabase, CommandStatus, JobsTable, JobState } from "./schema.ts";

/** A job to create. */
export interface NewJob {
  name: string;
  selector: Selector;
  command: { name: string; args?: Record<string, unknown> };
  /** Commands released per minute; undefined releases all at once. */
  ratePerMinute?: number;
  now: number;
}

/** Counts of a job's commands. */
export interface JobCounts {
  targeted: number;
  /** Not delivered yet: scheduled (waiting for the rate) or queued (for an offline device). */
  queued: number;
  /** Of `queued`, those the job's rate has not released yet. */
  scheduled: number;
  delivered: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** A job as read back. */
export interface JobView {
  id: string;
  name: string;
  selector: string;
  command: { name: string; args?: Record<string, unknown> };
  ratePerMinute: number | null;
  state: JobState;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  counts: JobCounts;
}

/** A released command and whether its device is online now (then it is published at once). */
export interface ReleasedCommand {
  command: CommandView;
  online: boolean;
}

/** A command id the database makes itself (INSERT … SELECT creates one per device). */
function newCommandId(dialect: StoreDialect) {
  return dialect === "postgres"
    ? sql<string>`replace(gen_random_uuid()::text, '-', '')`
    : sql<string>`lower(hex(randomblob(16)))`;
}

function countsOf(rows: { status: CommandStatus; n: number | string }[]): JobCounts {
  const counts: JobCounts = {
    targeted: 0,
    queued: 0,
    scheduled: 0,
    delivered: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
  };
  for (const row of rows) {
    const n = Number(row.n);
    counts.targeted += n;
    if (row.status === "scheduled") {
      counts.scheduled += n;
      counts.queued += n;
    } else {
      counts[row.status] += n;
    }
  }
  return counts;
}

/** Jobs and the commands they created. */
export class JobStore {
  readonly #db: Kysely<CloudDatabase>;
  readonly #dialect: StoreDialect;

  constructor(db: Kysely<CloudDatabase>, dialect: StoreDialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  /**
   * Creates a job and one `scheduled` command for every device the selector matches now. With
   * no target it is `succeeded` at once.
   */
  async create(spec: NewJob): Promise<{ id: string; targeted: number }> {
    const id = crypto.randomUUID();
    const args = spec.command.args === undefined ? null : JSON.stringify(spec.command.args);
    return await writeTransaction(this.#db, this.#dialect, async (tx) => {
      await tx.insertInto("jobs").values({
        id,
        name: spec.name,
        selector: spec.selector.text,
        command_name: spec.command.name,
        args,
        rate_per_minute: spec.ratePerMinute ?? null,
        state: "running",
        targeted: 0,
        created_at: spec.now,
        updated_at: spec.now,
        finished_at: null,
      }).execute();
      const inserted = await tx.insertInto("commands")
        .columns([
          "id",
          "device_id",
          "name",
          "args",
          "status",
          "created_at",
          "updated_at",
          "job_id",
        ])
        .expression(
          tx.selectFrom("devices").select([
            newCommandId(this.#dialect).as("id"),
            "devices.id as device_id",
            sql<string>`CAST(${spec.command.name} AS text)`.as("name"),
            sql<string | null>`CAST(${args} AS text)`.as("args"),
            sql<string>`'scheduled'`.as("status"),
            sql<number>`CAST(${spec.now} AS bigint)`.as("created_at"),
            sql<number>`CAST(${spec.now} AS bigint)`.as("updated_at"),
            sql<string>`CAST(${id} AS text)`.as("job_id"),
          ]).where((eb) =>
            deviceFilterExpression(eb, { selector: spec.selector, activeOnly: true }, this.#dialect)
          ),
        ).executeTakeFirst();
      const targeted = Number(inserted.numInsertedOrUpdatedRows ?? 0);
      await tx.updateTable("jobs").set({
        targeted,
        ...(targeted === 0 ? { state: "succeeded" as const, finished_at: spec.now } : {}),
      }).where("id", "=", id).execute();
      return { id, targeted };
    });
  }

  /** One job with its counts. */
  async get(id: string): Promise<JobView | undefined> {
    const row = await this.#db.selectFrom("jobs").selectAll().where("id", "=", id)
      .executeTakeFirst();
    return row && await this.#view(row);
  }

  async #view(row: JobsTable): Promise<JobView> {
    return {
      id: row.id,
      name: row.name,
      selector: row.selector,
      command: {
        name: row.command_name,
        ...(row.args === null ? {} : { args: JSON.parse(row.args) }),
      },
      ratePerMinute: row.rate_per_minute,
      state: row.state,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      finishedAt: row.finished_at === null ? null : iso(row.finished_at),
      counts: await this.counts(row.id),
    };
  }

  /** Counts of a job's commands by status (one indexed GROUP BY). */
  async counts(id: string): Promise<JobCounts> {
    const rows = await this.#db.selectFrom("commands")
      .select(["status", sql<number | string>`count(*)`.as("n")])
      .where("job_id", "=", id).groupBy("status").execute();
    return countsOf(rows);
  }

  /** Jobs newest first, `limit` per page, after the cursor of a previous page. */
  async list(
    query: { limit: number; after?: { createdAt: number; id: string } },
  ): Promise<{ items: JobView[]; next?: { createdAt: number; id: string } }> {
    let select = this.#db.selectFrom("jobs").selectAll();
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

  /** Ids of running jobs, oldest first. */
  async running(): Promise<{ id: string; createdAt: number; ratePerMinute: number | null }[]> {
    const rows = await this.#db.selectFrom("jobs").select(["id", "created_at", "rate_per_minute"])
      .where("state", "=", "running").orderBy("created_at").execute();
    return rows.map((row) => ({
      id: row.id,
      createdAt: Number(row.created_at),
      ratePerMinute: row.rate_per_minute,
    }));
  }

  /**
   * Releases up to `limit` scheduled commands of a running job (by device id) to `queued`.
   * @returns them, each with whether its device is online now.
   */
  async release(id: string, limit: number, now: number): Promise<ReleasedCommand[]> {
    if (limit <= 0) return [];
    return await writeTransaction(this.#db, this.#dialect, async (tx) => {
      const job = await tx.selectFrom("jobs").select("state").where("id", "=", id)
        .executeTakeFirst();
      if (job?.state !== "running") return [];
      const picked = await tx.selectFrom("commands").select("id")
        .where("job_id", "=", id).where("status", "=", "scheduled")
        .orderBy("device_id").limit(limit).execute();
      if (picked.length === 0) return [];
      const ids = picked.map((row) => row.id);
      await tx.updateTable("commands").set({ status: "queued", updated_at: now })
        .where("id", "in", ids).where("status", "=", "scheduled").execute();
      const rows = await tx.selectFrom("commands")
        .innerJoin("devices", "devices.id", "commands.device_id")
        .selectAll("commands").select("devices.online")
        .where("commands.id", "in", ids).where("commands.status", "=", "queued")
        .orderBy("commands.device_id").execute();
      return rows.map(({ online, ...command }) => ({
        command: toCommand(command),
        online: Number(online) === 1,
      }));
    });
  }

  /**
   * Cancels a running job: its commands not delivered yet (scheduled or queued) are cancelled.
   * @returns the commands cancelled, or undefined when the job was not running.
   */
  async cancel(id: string, now: number): Promise<number | undefined> {
    return await writeTransaction(this.#db, this.#dialect, async (tx) => {
      const moved = await tx.updateTable("jobs")
        .set({ state: "cancelled", updated_at: now, finished_at: now })
        .where("id", "=", id).where("state", "=", "running").executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return undefined;
      const cancelled = await tx.updateTable("commands")
        .set({ status: "cancelled", updated_at: now })
        .where("job_id", "=", id).where("status", "in", ["scheduled", "queued"])
        .executeTakeFirst();
      return Number(cancelled.numUpdatedRows);
    });
  }

  /**
   * Ends a running job whose commands are all answered: `succeeded`, or `failed` when any
   * failed. False when it was not running or still has commands out.
   */
  async finishIfDone(id: string, now: number): Promise<JobState | undefined> {
    const counts = await this.counts(id);
    if (counts.queued + counts.delivered > 0) return undefined;
    const state: JobState = counts.failed > 0 ? "failed" : "succeeded";
    const moved = await this.#db.updateTable("jobs")
      .set({ state, updated_at: now, finished_at: now })
      .where("id", "=", id).where("state", "=", "running").executeTakeFirst();
    return Number(moved.numUpdatedRows) === 1 ? state : undefined;
  }
}
