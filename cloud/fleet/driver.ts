/**
 * The fleet driver: about once a second (and at once when woken), advances every active
 * rollout (timeouts, threshold, waves, resends) and every running job (its rate, its end).
 *
 * Every cloud replica runs one. That is safe: each step moves rows only from the state it read
 * (conditional updates, devices locked on PostgreSQL), so two replicas doing the same step do it
 * once; a replica that dies halfway leaves work another one finishes.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { Jobs } from "./jobs.ts";
import type { Rollouts } from "./rollouts.ts";

/** Dependencies of {@link FleetDriver}. */
export interface FleetDriverOptions {
  rollouts: Pick<Rollouts, "active" | "advance">;
  jobs: Pick<Jobs, "running" | "advance">;
  logger: Logger;
  /** Time between steps (default 1000 ms). */
  intervalMs?: number;
}

/** Advances rollouts and jobs in the background. */
export class FleetDriver {
  #options: FleetDriverOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(options: FleetDriverOptions) {
    this.#options = options;
  }

  /** Starts stepping every `intervalMs`. */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops stepping; resolves when a step in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Steps soon (after the step in progress, if any): a rollout or job was just created. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  #schedule(delay: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), delay);
  }

  #run(): void {
    if (this.#running) return;
    this.#running = this.step().finally(() => {
      this.#running = undefined;
      if (this.#stopped) return;
      const again = this.#again;
      this.#again = false;
      this.#schedule(again ? 0 : this.#options.intervalMs ?? 1000);
    });
  }

  /** One step over every active rollout and running job; a failure is logged, not thrown. */
  async step(): Promise<void> {
    const { rollouts, jobs, logger } = this.#options;
    try {
      for (const id of await rollouts.active()) {
        await rollouts.advance(id).catch((error) =>
          logger.error("advancing a rollout failed", { rolloutId: id, error })
        );
      }
      for (const job of await jobs.running()) {
        await jobs.advance(job).catch((error) =>
          logger.error("advancing a job failed", { jobId: job.id, error })
        );
      }
    } catch (error) {
      logger.error("fleet driver step failed", { error });
    }
  }
}
