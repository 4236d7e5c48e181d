/**
 * The fleet's use cases: what an operator does to devices, whichever way they ask (the HTTP API
 * or the fleet console). Both call these, so they behave the same; rollouts and jobs belong here
 * too. Reads the console needs are a narrow {@link FleetReadModel} of the store.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { Downlink } from "../broker/downlink.ts";
import type { CloudStore, CommandView } from "../store/store.ts";

/** The largest desired state accepted; it travels as one retained MQTT message. */
export const MAX_DESIRED_BYTES = 256 * 1024;

/** What the fleet console reads: devices, their data and their commands. */
export type FleetReadModel = Pick<
  CloudStore,
  "deviceExists" | "listDevices" | "getDevice" | "queryReadings" | "listEvents" | "listCommands"
>;

/** Dependencies of {@link FleetOperations}. */
export interface FleetOperationsOptions {
  store: Pick<CloudStore, "setDesired" | "createCommand">;
  downlink: Pick<Downlink, "desired" | "sendCommand">;
  logger: Logger;
}

/** A command as an operator asks for it. */
export interface CommandRequest {
  name: string;
  args?: Record<string, unknown>;
}

/** Desired state and commands for devices. */
export class FleetOperations {
  #store: FleetOperationsOptions["store"];
  #downlink: FleetOperationsOptions["downlink"];
  #logger: Logger;

  constructor(options: FleetOperationsOptions) {
    this.#store = options.store;
    this.#downlink = options.downlink;
    this.#logger = options.logger;
  }

  /**
   * Replaces a device's desired state (bumping its version) and publishes it retained; if the
   * publish fails it is stored all the same and re-sent when the device next comes online.
   * @returns the new version, or undefined when the device is not enrolled.
   */
  async setDesired(
    deviceId: string,
    desired: Record<string, unknown>,
  ): Promise<number | undefined> {
    const version = await this.#store.setDesired(deviceId, desired);
    if (version === undefined) return undefined;
    try {
      await this.#downlink.desired(deviceId, { version, desired });
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
}
