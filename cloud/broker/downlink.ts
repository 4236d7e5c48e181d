/**
 * What the cloud sends down: acks, desired state and commands, and the re-sending when a
 * device comes back online.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { Ack, Command, Desired, Hello } from "@outpost/protocol";
import { topics } from "@outpost/protocol";
import type { CloudStore, CommandView, DownlinkState } from "../store/store.ts";
import type { BrokerLink } from "./link.ts";

/** Dependencies of {@link Downlink}. */
export interface DownlinkOptions {
  link: Pick<BrokerLink, "publish">;
  store: CloudStore;
  logger: Logger;
}

/** Publishes downlink messages. */
export class Downlink {
  #link: Pick<BrokerLink, "publish">;
  #store: CloudStore;
  #logger: Logger;

  constructor(options: DownlinkOptions) {
    this.#link = options.link;
    this.#store = options.store;
    this.#logger = options.logger;
  }

  /** `down/ack`, QoS 1 and retained so a reconnecting device learns its position at once. */
  async ack(deviceId: string, upTo: number): Promise<void> {
    const message: Ack = { upTo };
    await this.#link.publish(topics.ack(deviceId), JSON.stringify(message), {
      qos: 1,
      retain: true,
    });
  }

  /**
   * `down/ack` with a note of what the cloud did not take (a refused batch, dropped records):
   * QoS 1, not retained, so the note is delivered once and the retained plain ack stays.
   */
  async ackNotice(deviceId: string, message: Ack): Promise<void> {
    await this.#link.publish(topics.ack(deviceId), JSON.stringify(message), {
      qos: 1,
      retain: false,
    });
  }

  /** `down/desired`, QoS 1 and retained. */
  async desired(deviceId: string, message: Desired): Promise<void> {
    await this.#link.publish(topics.desired(deviceId), JSON.stringify(message), {
      qos: 1,
      retain: true,
    });
  }

  /**
   * Answers an `up/hello`: `down/ack {upTo}` with the cloud's acked seq (also when 0, so the
   * device knows it was heard) and, when the cloud holds a desired state newer than the one the
   * device says it has, `down/desired`. Both QoS 1 and not retained: the answer goes to this
   * connection, whichever broker node holds (or lost) the retained copies, and a retained
   * publish here would change nothing the retained copies do not already say.
   */
  async answerHello(deviceId: string, hello: Hello, state: DownlinkState): Promise<void> {
    const ack: Ack = { upTo: state.ackedSeq };
    await this.#link.publish(topics.ack(deviceId), JSON.stringify(ack), {
      qos: 1,
      retain: false,
    });
    if (state.desiredVersion > 0 && (hello.desiredVersion ?? 0) < state.desiredVersion) {
      const desired: Desired = { version: state.desiredVersion, desired: state.desired };
      await this.#link.publish(topics.desired(deviceId), JSON.stringify(desired), {
        qos: 1,
        retain: false,
      });
    }
  }

  /** `down/cmd`, QoS 1, not retained (a retained command would run again on every connect). */
  async command(command: CommandView): Promise<void> {
    const message: Command = {
      id: command.id,
      name: command.name,
      ...(command.args ? { args: command.args } : {}),
    };
    await this.#link.publish(topics.command(command.deviceId), JSON.stringify(message), {
      qos: 1,
      retain: false,
    });
  }

  /**
   * Sends a new command if its device is online and marks it delivered; an offline device gets
   * it when it comes back ({@link resume}).
   * @returns true when it was published.
   */
  async sendCommand(command: CommandView): Promise<boolean> {
    if (!(await this.#store.isOnline(command.deviceId))) return false;
    try {
      await this.command(command);
    } catch (error) {
      this.#logger.warn("cannot publish command; it stays queued", {
        deviceId: command.deviceId,
        commandId: command.id,
        error,
      });
      return false;
    }
    await this.#store.markDelivered([command.id]);
    return true;
  }

  /**
   * Re-sends what a device that just came online may have missed: its ack, its desired state
   * when not applied yet, and every command without a result (the agent dedupes by id).
   */
  async resume(deviceId: string): Promise<void> {
    const state = await this.#store.downlinkState(deviceId);
    if (!state) return;
    if (state.ackedSeq > 0) await this.ack(deviceId, state.ackedSeq);
    if (state.desiredVersion > state.appliedVersion) {
      await this.desired(deviceId, { version: state.desiredVersion, desired: state.desired });
    }
    const commands = await this.#store.unansweredCommands(deviceId);
    const sent: string[] = [];
    try {
      for (const command of commands) {
        await this.command(command);
        sent.push(command.id);
      }
    } finally {
      await this.#store.markDelivered(sent);
    }
    if (sent.length) this.#logger.info("commands re-sent", { deviceId, count: sent.length });
  }
}
