/**
 * The fleet's use cases: what an operator does to devices, whichever way they ask (the HTTP API
 * or the fleet console). Both call these, so they behave the same: desired state, commands and
 * labels of one device, and rollouts and jobs for many. Reads the console needs are a narrow
 * {@link FleetReadModel} of the store.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { DeviceCredentialsProvisioner } from "../broker/credentials.ts";
import type { Downlink } from "../broker/downlink.ts";
import type { DeviceCounts, DeviceFilter } from "../store/device_query.ts";
import type {
  CloudStore,
  CommandView,
  DeleteOutcome,
  DeviceDetail,
  EnrollmentRequestView,
  PositionReset,
} from "../store/store.ts";
import { DeviceCountsCache } from "./device_counts.ts";
import { putOverRollouts } from "./desired_patch.ts";
import { Jobs } from "./jobs.ts";
import type { CommandRequest } from "./requests.ts";
import { Rollouts } from "./rollouts.ts";

export { type CommandRequest, MAX_DESIRED_BYTES } from "./requests.ts";

/** What the fleet console reads: devices, their data and their commands. */
export type FleetReadModel = Pick<
  CloudStore,
  | "deviceExists"
  | "listDevicesPage"
  | "countDevices"
  | "getDevice"
  | "sensorActivity"
  | "queryReadings"
  | "listEvents"
  | "listCommands"
  | "listEnrollmentRequests"
>;

/** Dependencies of {@link FleetOperations}. */
export interface FleetOperationsOptions {
  store: Pick<
    CloudStore,
    | "setDesired"
    | "createCommand"
    | "getDevice"
    | "setDeviceStatus"
    | "deleteDevice"
    | "resetPosition"
    | "decideEnrollmentRequest"
    | "setLabels"
    | "markDelivered"
    | "countDevices"
    | "rollouts"
    | "jobs"
  >;
  downlink: Pick<Downlink, "desired" | "sendCommand" | "ack" | "command">;
  /** The broker's credentials: revoking a device removes its own. */
  provisioner: Pick<DeviceCredentialsProvisioner, "revoke">;
  logger: Logger;
  now?: () => number;
  /** Called when a rollout or job needs the driver soon (see `driver.ts`). */
  wake?: () => void;
  /** Rollouts publish the desired state again to an unanswered online device after this. */
  resendAfterMs?: number;
}

/** An operator action on a device or request that cannot be done as asked. */
export class FleetActionError extends Error {
  constructor(
    readonly code: "not_found" | "conflict",
    message: string,
  ) {
    super(message);
    this.name = "FleetActionError";
  }
}

/** What deleting a device does with its data. */
export type DeleteData = "keep" | "purge";

/** Desired state, commands, labels and lifecycle of devices; rollouts and jobs over many. */
export class FleetOperations {
  #store: FleetOperationsOptions["store"];
  #downlink: FleetOperationsOptions["downlink"];
  #provisioner: FleetOperationsOptions["provisioner"];
  #logger: Logger;
  #now: () => number;
  /** Desired-state changes for many devices, in waves. */
  readonly rollouts: Rollouts;
  /** One command for many devices. */
  readonly jobs: Jobs;
  #counts: DeviceCountsCache;

  constructor(options: FleetOperationsOptions) {
    this.#store = options.store;
    this.#downlink = options.downlink;
    this.#provisioner = options.provisioner;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#counts = new DeviceCountsCache(options.store);
    this.rollouts = new Rollouts({
      store: options.store.rollouts,
      downlink: options.downlink,
      logger: options.logger,
      now: options.now,
      wake: options.wake,
      resendAfterMs: options.resendAfterMs,
    });
    this.jobs = new Jobs({
      store: options.store,
      downlink: options.downlink,
      logger: options.logger,
      now: options.now,
      wake: options.wake,
    });
  }

  /**
   * Revokes a device: its broker credentials are removed (refused at its next connect, its
   * current session dropped), enrollment is refused (even with its secret) until it is
   * reinstated, and ingest stores nothing it sends. Its data stays.
   * @throws FleetActionError `not_found`; ProvisioningError when the broker did not confirm
   *   (the device is revoked in the cloud all the same; repeat the call).
   */
  async revoke(deviceId: string): Promise<DeviceDetail> {
    return await this.#retire(deviceId, "revoked");
  }

  /**
   * Decommissions a device: as {@link revoke}, for a device retired for good (it stays listed
   * as decommissioned with its data; delete it to free the id).
   */
  async decommission(deviceId: string): Promise<DeviceDetail> {
    return await this.#retire(deviceId, "decommissioned");
  }

  /**
   * Makes a revoked or decommissioned device active again. The device re-enrolls on its own
   * with its device secret; with `resetSecret` that secret no longer counts, so its next
   * enrollment waits for an operator's approval (for a device that was compromised and
   * re-imaged).
   */
  async reinstate(
    deviceId: string,
    options: { resetSecret?: boolean } = {},
  ): Promise<DeviceDetail> {
    const previous = await this.#store.setDeviceStatus(deviceId, "active", options);
    if (previous === undefined) throw unknownDevice(deviceId);
    this.#logger.info("device reinstated", { deviceId, previous, ...options });
    return await this.#detail(deviceId);
  }

  /**
   * Deletes a device: its credentials are revoked first, then the device goes from the fleet
   * with its readings, events and commands purged, or kept (and still queryable; a device
   * enrolling under the id later numbers its records after them).
   * @throws FleetActionError `not_found`; ProvisioningError when the broker did not confirm
   *   (the device is then left revoked; repeat the call).
   */
  async deleteDevice(deviceId: string, data: DeleteData): Promise<DeleteOutcome> {
    // Revoked first, so nothing it sends is stored and it cannot enroll while it goes.
    const previous = await this.#store.setDeviceStatus(deviceId, "revoked");
    if (previous === undefined) throw unknownDevice(deviceId);
    await this.#provisioner.revoke(deviceId);
    const deleted = await this.#store.deleteDevice(deviceId, { purge: data === "purge" });
    if (!deleted) throw unknownDevice(deviceId);
    this.#logger.info("device deleted", { deviceId, data, ...deleted });
    return deleted;
  }

  /**
   * Resets a device's sequence position (see `CloudStore.resetPosition`) and tells the device
   * its ack again. Clears a poisoned lag; with `ackedSeq` above the current position, accepts
   * the device's numbering from there.
   * @throws FleetActionError `not_found`, or `conflict` for an `ackedSeq` below the position.
   */
  async resetPosition(deviceId: string, ackedSeq?: number): Promise<PositionReset> {
    const outcome = await this.#store.resetPosition(deviceId, ackedSeq);
    if (!outcome.ok) {
      if (outcome.reason === "not_found") throw unknownDevice(deviceId);
      throw new FleetActionError(
        "conflict",
        `ackedSeq ${ackedSeq} is below the ${outcome.ackedSeq} the cloud holds for '${deviceId}'; the device pruned those records, so the position never goes back`,
      );
    }
    const { ok: _ok, ...reset } = outcome;
    this.#logger.warn("device sequence position reset", { deviceId, ...reset });
    await this.#downlink.ack(deviceId, reset.ackedSeq).catch((error) => {
      this.#logger.warn("cannot publish the ack after a reset now", { deviceId, error });
    });
    return reset;
  }

  /**
   * Approves or rejects a pending enrollment request. Approving makes the requester the device:
   * its secret becomes the device's, the current broker credentials are revoked (whoever holds
   * them is not the device), and the requester's next attempt gets new ones.
   * @throws FleetActionError `not_found`, or `conflict` when already decided the other way or
   *   the device is revoked or decommissioned.
   */
  async decideRequest(
    requestId: string,
    decision: "approved" | "rejected",
  ): Promise<EnrollmentRequestView> {
    const outcome = await this.#store.decideEnrollmentRequest(requestId, decision);
    if (!outcome.ok) {
      if (outcome.reason === "not_found") {
        throw new FleetActionError(
          "not_found",
          `No enrollment request with id '${requestId.slice(0, 80)}'`,
        );
      }
      throw new FleetActionError(
        "conflict",
        outcome.reason === "already_decided"
          ? `Enrollment request ${requestId} was already decided otherwise`
          : `The device of enrollment request ${requestId} is not active; reinstate it first`,
      );
    }
    const request = outcome.request;
    if (decision === "approved") await this.#provisioner.revoke(request.deviceId);
    this.#logger.info(`enrollment request ${decision}`, {
      requestId,
      deviceId: request.deviceId,
    });
    return request;
  }

  async #retire(deviceId: string, status: "revoked" | "decommissioned"): Promise<DeviceDetail> {
    const previous = await this.#store.setDeviceStatus(deviceId, status);
    if (previous === undefined) throw unknownDevice(deviceId);
    await this.#provisioner.revoke(deviceId);
    this.#logger.warn(`device ${status}`, { deviceId, previous });
    return await this.#detail(deviceId);
  }

  async #detail(deviceId: string): Promise<DeviceDetail> {
    const device = await this.#store.getDevice(deviceId);
    if (!device) throw unknownDevice(deviceId);
    return device;
  }

  /**
   * Replaces a device's desired state (bumping its version) and publishes it retained; if the
   * publish fails it is stored all the same and re-sent when the device next comes online.
   *
   * Precedence while rollouts run: the body wins for every key it sets, now and later (those
   * keys are pinned: a wave that reaches the device afterwards leaves them alone); a running or
   * paused rollout that already reached the device keeps its value for each key it changed that
   * the body does not set.
   * @returns the new version, or undefined when the device is not enrolled.
   */
  async setDesired(
    deviceId: string,
    desired: Record<string, unknown>,
  ): Promise<number | undefined> {
    const stored = await this.#store.setDesired(deviceId, desired, {
      compose: putOverRollouts,
      now: this.#now(),
    });
    if (stored === undefined) return undefined;
    const { version } = stored;
    try {
      await this.#downlink.desired(deviceId, { version, desired: stored.desired });
    } catch (error) {
      this.#logger.warn("cannot publish desired state now", { deviceId, version, error });
    }
    this.#logger.info("desired state set", { deviceId, version });
    return version;
  }

  /**
   * Stores a command as queued and publishes it at once when the device is online (otherwise
   * when it comes back). The caller checks that the device exists.
   */
  async queueCommand(deviceId: string, request: CommandRequest): Promise<CommandView> {
    const command = await this.#store.createCommand({
      deviceId,
      name: request.name,
      args: request.args,
    });
    const delivered = await this.#downlink.sendCommand(command);
    this.#logger.info("command queued", {
      deviceId,
      commandId: command.id,
      name: command.name,
      delivered,
    });
    return command;
  }

  /**
   * The device list's counts for a selector and id prefix, computed at most once a second (see
   * `device_counts.ts`): the API's and the console's pages take them from here.
   */
  countDevices(filter: DeviceFilter): Promise<DeviceCounts> {
    return this.#counts.get(filter);
  }

  /**
   * Replaces a device's labels (checked by the caller: Kubernetes syntax).
   * @returns false when the device is not enrolled.
   */
  async setLabels(deviceId: string, labels: Record<string, string>): Promise<boolean> {
    const done = await this.#store.setLabels(deviceId, labels);
    if (done) this.#logger.info("labels set", { deviceId, labels: Object.keys(labels).length });
    return done;
  }
}

function unknownDevice(deviceId: string): FleetActionError {
  return new FleetActionError("not_found", `No device with id '${deviceId.slice(0, 80)}'`);
}
