/**
 * Rollouts: a desired-state change (a JSON merge patch) for every device a selector names,
 * in waves. The API and the console create and steer them here; the driver (`driver.ts`) calls
 * {@link Rollouts.advance} for each active rollout about once a second.
 *
 * A wave starts by giving each of its targets a new desired version (the patch merged into the
 * device's desired state, minus the keys a per-device PUT pinned since the rollout was created)
 * and publishing it retained. It has been answered when every target that is online has
 * answered (applied or failed); an offline target does not hold it up: it counts as `offline`
 * and gets the change when it reconnects. The wave then bakes for its `bakeSeconds`, and the
 * next one starts. When failures exceed `failureThresholdPercent` of the targets that answered,
 * the rollout aborts itself: the waves not started are skipped, and the unanswered targets get
 * their previous values back as a new version (so a device that is offline never applies the
 * change). A rollback restores, as a new version, what the rollout changed on the devices it
 * changed, keeping any key changed since.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { Downlink } from "../broker/downlink.ts";
import type {
  DesiredSent,
  RolloutStore,
  RolloutView,
  TargetDevice,
  TargetStep,
  TargetView,
  WaveSpec,
} from "../store/rollouts.ts";
import { TARGET_CHUNK } from "../store/rollouts.ts";
import { type DesiredState, type PatchPlan, planPatch, planRestore } from "./desired_patch.ts";
import { FleetError } from "./errors.ts";
import { MAX_DESIRED_BYTES } from "./requests.ts";
import { publishAll } from "./publish.ts";
import type { Selector } from "./selector.ts";

export type { RolloutView, WaveSpec } from "../store/rollouts.ts";

/** A rollout as an operator asks for it. */
export interface RolloutRequest {
  name: string;
  selector: Selector;
  /** JSON merge patch applied to each target's desired state. */
  desired: DesiredState;
  /** Cumulative percents, increasing, the last 100. */
  waves: WaveSpec[];
  failureThresholdPercent: number;
  applyTimeoutSeconds: number;
}

/** Dependencies of {@link Rollouts}. */
export interface RolloutsOptions {
  store: RolloutStore;
  downlink: Pick<Downlink, "desired">;
  logger: Logger;
  now?: () => number;
  /** Called after a change the driver should act on soon (a new rollout, a resume). */
  wake?: () => void;
  /** An unanswered target of an online device is published again after this long. */
  resendAfterMs?: number;
}

/** How long an unanswered, online target waits before its desired state is published again. */
export const RESEND_AFTER_MS = 60_000;

/** The rollouts' use cases. */
export class Rollouts {
  #store: RolloutStore;
  #downlink: Pick<Downlink, "desired">;
  #logger: Logger;
  #now: () => number;
  #wake: () => void;
  #resendAfterMs: number;

  constructor(options: RolloutsOptions) {
    this.#store = options.store;
    this.#downlink = options.downlink;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#wake = options.wake ?? (() => {});
    this.#resendAfterMs = options.resendAfterMs ?? RESEND_AFTER_MS;
  }

  /** Creates a rollout; its targets are fixed now. The first wave starts on the driver's next step. */
  async create(request: RolloutRequest): Promise<{ id: string; targeted: number }> {
    const created = await this.#store.create({
      name: request.name,
      selector: request.selector,
      patch: request.desired,
      waves: request.waves,
      failureThresholdPercent: request.failureThresholdPercent,
      applyTimeoutSeconds: request.applyTimeoutSeconds,
      now: this.#now(),
    });
    this.#logger.info("rollout created", {
      rolloutId: created.id,
      name: request.name,
      selector: request.selector.text,
      targeted: created.targeted,
      waves: request.waves.length,
    });
    this.#wake();
    return created;
  }

  /** One rollout with its waves and counts. */
  get(id: string): Promise<RolloutView | undefined> {
    return this.#store.get(id);
  }

  /** Rollouts newest first. */
  list(
    query: { limit: number; after?: { createdAt: number; id: string } },
  ): ReturnType<RolloutStore["list"]> {
    return this.#store.list(query);
  }

  /** Ids of the rollouts the driver should advance. */
  active(): Promise<string[]> {
    return this.#store.active();
  }

  async #require(id: string): Promise<RolloutView> {
    const rollout = await this.#store.get(id);
    if (!rollout) throw new FleetError("not_found", `No rollout with id '${id.slice(0, 80)}'`);
    return rollout;
  }

  /** Stops starting waves (answers are still counted, failures may still abort it). */
  async pause(id: string): Promise<void> {
    const rollout = await this.#require(id);
    if (rollout.state === "paused") return;
    if (!(await this.#store.transition(id, ["running"], "paused", { now: this.#now() }))) {
      throw new FleetError(
        "conflict",
        `Rollout '${id}' is ${rollout.state}; only a running one pauses`,
      );
    }
    this.#logger.info("rollout paused", { rolloutId: id });
  }

  /** Continues a paused rollout. */
  async resume(id: string): Promise<void> {
    const rollout = await this.#require(id);
    if (rollout.state === "running") return;
    if (!(await this.#store.transition(id, ["paused"], "running", { now: this.#now() }))) {
      throw new FleetError(
        "conflict",
        `Rollout '${id}' is ${rollout.state}; only a paused one resumes`,
      );
    }
    this.#logger.info("rollout resumed", { rolloutId: id });
    this.#wake();
  }

  /**
   * Aborts a running or paused rollout: waves not started are skipped, and every target that
   * has not answered gets its previous values back (a device offline now never applies it).
   */
  async abort(id: string, reason = "aborted by an operator"): Promise<void> {
    const rollout = await this.#require(id);
    if (rollout.state === "aborted") return;
    const now = this.#now();
    if (!(await this.#store.transition(id, ["running", "paused"], "aborted", { now, reason }))) {
      throw new FleetError(
        "conflict",
        `Rollout '${id}' is ${rollout.state}; only a running or paused one aborts`,
      );
    }
    this.#logger.warn("rollout aborted", { rolloutId: id, reason });
    await this.#withdraw(id, now);
  }

  /**
   * Rolls a rollout back: aborts it if it still runs, then creates a rollback rollout (one
   * wave) over the devices it changed, restoring the keys it changed that nobody changed since.
   */
  async rollback(id: string): Promise<{ id: string; targeted: number }> {
    const rollout = await this.#require(id);
    if (rollout.rolledBackBy) {
      throw new FleetError(
        "conflict",
        `Rollout '${id}' was already rolled back by '${rollout.rolledBackBy}'`,
      );
    }
    if (rollout.state === "running" || rollout.state === "paused") {
      await this.abort(id, "aborted to roll it back");
    }
    const created = await this.#store.createRollback({
      originalId: id,
      name: `Rollback of ${rollout.name}`.slice(0, 200),
      applyTimeoutSeconds: rollout.applyTimeoutSeconds,
      now: this.#now(),
    });
    if (!created) throw new FleetError("conflict", `Rollout '${id}' was already rolled back`);
    this.#logger.info("rollback created", {
      rolloutId: created.id,
      rollbackOf: id,
      targeted: created.targeted,
    });
    this.#wake();
    return created;
  }

  /** One step of the driver for one rollout: timeouts, the failure threshold, the waves. */
  async advance(id: string): Promise<void> {
    const header = await this.#store.header(id);
    if (!header) return;
    const now = this.#now();
    if (header.state === "aborted") return await this.#withdraw(id, now);
    if (header.state === "succeeded") return;
    let view = await this.#require(id);

    const cutoff = now - view.applyTimeoutSeconds * 1000;
    const timedOut = await this.#store.failUnanswered(id, cutoff, {
      now,
      reason: `no answer within ${view.applyTimeoutSeconds} s while online`,
    });
    if (timedOut) view = await this.#require(id);

    const { applied, failed } = view.counts;
    if (failed > 0 && failed * 100 > view.failureThresholdPercent * (applied + failed)) {
      const share = ((failed * 100) / (applied + failed)).toFixed(1);
      await this.abort(
        id,
        `${failed} of ${
          applied + failed
        } devices that answered failed (${share}%), above the threshold of ${view.failureThresholdPercent}%`,
      );
      return;
    }
    if (view.state !== "running") return await this.#resend(id, now);

    const plan = this.#planner(header);
    for (let guard = 0; guard < view.waves.length * 3 + 3; guard++) {
      const wave = view.waves.find((w) => w.state !== "completed" && w.state !== "skipped");
      if (!wave) {
        if (await this.#store.transition(id, ["running"], "succeeded", { now })) {
          this.#logger.info("rollout succeeded", { rolloutId: id, counts: view.counts });
        }
        return;
      }
      if (wave.state === "waiting") {
        await this.#store.transitionWave(id, wave.index, "waiting", "running", { startedAt: now });
        this.#logger.info("rollout wave started", {
          rolloutId: id,
          wave: wave.index,
          size: wave.size,
        });
      } else if (wave.state === "running" && wave.waiting > 0) {
        await this.#dispatch(id, wave.index, plan, now);
      } else if (wave.state === "running" && wave.pendingOnline === 0) {
        await this.#store.transitionWave(id, wave.index, "running", "baking", { answeredAt: now });
      } else if (
        wave.state === "baking" && now >= Date.parse(wave.answeredAt!) + wave.bakeSeconds * 1000
      ) {
        await this.#store.transitionWave(id, wave.index, "baking", "completed", {
          completedAt: now,
        });
        this.#logger.info("rollout wave completed", {
          rolloutId: id,
          wave: wave.index,
          counts: wave.counts,
        });
      } else {
        break;
      }
      view = await this.#require(id);
    }
    await this.#resend(id, now);
  }

  /** What a wave does to one target: the rollout's patch, or a rollback's restore. */
  #planner(header: { kind: "rollout" | "rollback"; patch: DesiredState; createdAt: number }) {
    return (device: TargetDevice, target: TargetView): TargetStep => {
      let result: PatchPlan;
      if (header.kind === "rollback") {
        result = planRestore(device.desired, target.restore ?? []);
      } else {
        const pinned = new Set(
          Object.entries(device.pins).filter(([, at]) => at > header.createdAt).map(([key]) => key),
        );
        result = planPatch(device.desired, header.patch, pinned);
      }
      if (result.changes.length === 0) {
        // Nothing to change: done if the device runs its current version, else wait for it.
        return device.appliedVersion >= device.desiredVersion
          ? { state: "applied", changes: [] }
          : { state: "pending", changes: [] };
      }
      const bytes = new TextEncoder().encode(JSON.stringify(result.desired)).byteLength;
      if (bytes > MAX_DESIRED_BYTES) {
        return {
          state: "failed",
          reason: `the desired state would be ${bytes} bytes, above ${MAX_DESIRED_BYTES}`,
        };
      }
      return { state: "pending", desired: result.desired, changes: result.changes };
    };
  }

  async #dispatch(
    id: string,
    wave: number,
    plan: (device: TargetDevice, target: TargetView) => TargetStep,
    now: number,
  ): Promise<void> {
    for (;;) {
      const ids = await this.#store.targetsIn(id, "waiting", { wave, limit: TARGET_CHUNK });
      if (ids.length === 0) return;
      const sent = await this.#store.stepTargets(id, ids, ["waiting"], plan, now);
      await this.#publish(sent);
    }
  }

  /** Cancels what an aborted rollout has not done: waiting targets, and unanswered changes. */
  async #withdraw(id: string, now: number): Promise<void> {
    await this.#store.setTargets(id, "waiting", "cancelled", {
      now,
      reason: "the rollout was aborted before this device's wave",
    });
    for (;;) {
      const ids = await this.#store.targetsIn(id, "pending", { limit: TARGET_CHUNK });
      if (ids.length === 0) return;
      const sent = await this.#store.stepTargets(id, ids, ["pending"], (device, target) => {
        const restore = planRestore(device.desired, target.changes ?? []);
        return {
          state: "cancelled",
          reason: "withdrawn: the rollout was aborted before this device answered",
          ...(restore.changes.length ? { desired: restore.desired } : {}),
        };
      }, now);
      await this.#publish(sent);
    }
  }

  /** Publishes again to online devices that have not answered for a while. */
  async #resend(id: string, now: number): Promise<void> {
    const stale = await this.#store.takeStale(id, now - this.#resendAfterMs, now, TARGET_CHUNK);
    if (stale.length) {
      this.#logger.info("desired state sent again", { rolloutId: id, devices: stale.length });
    }
    await this.#publish(stale);
  }

  async #publish(sent: DesiredSent[]): Promise<void> {
    await publishAll(sent, async (item) => {
      try {
        await this.#downlink.desired(item.deviceId, {
          version: item.version,
          desired: item.desired,
        });
      } catch (error) {
        // Stored all the same: the device gets it when it reconnects, or by the resend.
        this.#logger.warn("cannot publish desired state now", {
          deviceId: item.deviceId,
          version: item.version,
          error,
        });
      }
    });
  }
}
