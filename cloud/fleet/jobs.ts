/**
 * Jobs: one command for every device a selector names, released at `ratePerMinute` (all at
 * once without one). A released command is an ordinary command: published at once to an online
 * device, kept queued for an offline one until it reconnects. A job ends when every device has
 * answered: `succeeded`, or `failed` when any failed; cancelling it cancels the commands not
 * delivered yet. The driver (`driver.ts`) calls {@link Jobs.advance} about once a second.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { Downlink } from "../broker/downlink.ts";
import type { JobStore, JobView } from "../store/jobs.ts";
import type { CloudStore } from "../store/store.ts";
import { FleetError } from "./errors.ts";
import type { CommandRequest } from "./requests.ts";
import { publishAll } from "./publish.ts";
import type { Selector } from "./selector.ts";

export type { JobCounts, JobView } from "../store/jobs.ts";

/** A job as an operator asks for it. */
export interface JobRequest {
  name: string;
  selector: Selector;
  command: CommandRequest;
  ratePerMinute?: number;
}

/** Dependencies of {@link Jobs}. */
export interface JobsOptions {
  store: { jobs: JobStore } & Pick<CloudStore, "markDelivered">;
  downlink: Pick<Downlink, "command">;
  logger: Logger;
  now?: () => number;
  wake?: () => void;
}

/** Commands released per statement at most. */
export const RELEASE_CHUNK = 1000;

/**
 * How many of a job's commands its rate allows out `elapsedMs` after it was created: the first
 * at once, then `ratePerMinute` per minute.
 */
export function releasedBy(ratePerMinute: number, elapsedMs: number): number {
  return Math.floor((ratePerMinute * Math.max(0, elapsedMs)) / 60_000) + 1;
}

/** The jobs' use cases. */
export class Jobs {
  #store: JobsOptions["store"];
  #downlink: Pick<Downlink, "command">;
  #logger: Logger;
  #now: () => number;
  #wake: () => void;

  constructor(options: JobsOptions) {
    this.#store = options.store;
    this.#downlink = options.downlink;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#wake = options.wake ?? (() => {});
  }

  /** Creates a job and its commands (scheduled); the driver releases them. */
  async create(request: JobRequest): Promise<{ id: string; targeted: number }> {
    const created = await this.#store.jobs.create({
      name: request.name,
      selector: request.selector,
      command: request.command,
      ratePerMinute: request.ratePerMinute,
      now: this.#now(),
    });
    this.#logger.info("job created", {
      jobId: created.id,
      command: request.command.name,
      selector: request.selector.text,
      targeted: created.targeted,
      ratePerMinute: request.ratePerMinute,
    });
    this.#wake();
    return created;
  }

  /** One job with its counts. */
  get(id: string): Promise<JobView | undefined> {
    return this.#store.jobs.get(id);
  }

  /** Jobs newest first. */
  list(
    query: { limit: number; after?: { createdAt: number; id: string } },
  ): ReturnType<JobStore["list"]> {
    return this.#store.jobs.list(query);
  }

  /** Running jobs, for the driver. */
  running(): ReturnType<JobStore["running"]> {
    return this.#store.jobs.running();
  }

  /**
   * Cancels a running job; its commands not delivered yet are cancelled.
   * @returns how many commands were cancelled.
   */
  async cancel(id: string): Promise<number> {
    const cancelled = await this.#store.jobs.cancel(id, this.#now());
    if (cancelled === undefined) {
      const job = await this.#store.jobs.get(id);
      if (!job) throw new FleetError("not_found", `No job with id '${id.slice(0, 80)}'`);
      throw new FleetError("conflict", `Job '${id}' is ${job.state}; only a running one cancels`);
    }
    this.#logger.info("job cancelled", { jobId: id, commandsCancelled: cancelled });
    return cancelled;
  }

  /** One step of the driver for one running job: release what the rate allows, end it if done. */
  async advance(
    job: { id: string; createdAt: number; ratePerMinute: number | null },
  ): Promise<void> {
    const now = this.#now();
    const counts = await this.#store.jobs.counts(job.id);
    const released = counts.targeted - counts.scheduled;
    let allowed = job.ratePerMinute === null
      ? counts.scheduled
      : Math.min(counts.targeted, releasedBy(job.ratePerMinute, now - job.createdAt)) - released;
    while (allowed > 0) {
      const batch = await this.#store.jobs.release(job.id, Math.min(allowed, RELEASE_CHUNK), now);
      if (batch.length === 0) break;
      allowed -= batch.length;
      const delivered: string[] = [];
      await publishAll(batch.filter((item) => item.online), async ({ command }) => {
        try {
          await this.#downlink.command(command);
          delivered.push(command.id);
        } catch (error) {
          // It stays queued: the device gets it when it next comes online.
          this.#logger.warn("cannot publish command; it stays queued", {
            deviceId: command.deviceId,
            commandId: command.id,
            error,
          });
        }
      });
      await this.#store.markDelivered(delivered, now);
    }
    const finished = await this.#store.jobs.finishIfDone(job.id, now);
    if (finished) this.#logger.info("job finished", { jobId: job.id, state: finished });
  }
}
