/**
 * The downlink: desired state (monotonic versions, applied and reported through the outbox)
 * and commands (run once per id, results reported through the outbox).
 * @module
 */
import { isLogLevel, LOG_LEVELS, type Logger } from "@outpost/platform/log";
import type { Command, Desired } from "@outpost/protocol";
import { CommandResultRecord, MAX_OUTCOME_REASON, type ReportedRecord } from "@outpost/protocol";
import type { AgentStore } from "../store/store.ts";
import { type AgentSettings, checkDesired } from "./desired_settings.ts";

/** The longest `error` a command result may carry (the protocol's own limit). */
const MAX_RESULT_ERROR = CommandResultRecord.shape.error.unwrap().maxLength ?? 4000;

/** What commands may act on. */
export interface CommandContext {
  logger: Logger;
  /** Resend everything not acked; returns the first seq resent. */
  resync: () => number;
}

/** Outcome of one command. */
export type CommandOutcome =
  | { status: "succeeded"; result?: unknown }
  | { status: "failed"; error: string };

/** Runs a command by name. Unknown names fail with a clear error, never throw. */
export function runCommand(command: Command, context: CommandContext): CommandOutcome {
  switch (command.name) {
    case "ping":
      return { status: "succeeded", result: { pong: true, ts: new Date().toISOString() } };
    case "resync":
      return { status: "succeeded", result: { resendFrom: context.resync() } };
    case "set-log-level": {
      const level = command.args?.level;
      if (!isLogLevel(level)) {
        return {
          status: "failed",
          error: `set-log-level needs args.level, one of ${LOG_LEVELS.join(", ")}; got ${
            String(JSON.stringify(level)).slice(0, 80)
          }`,
        };
      }
      context.logger.setLevel(level);
      return { status: "succeeded", result: { level } };
    }
    default:
      return { status: "failed", error: `Unknown command '${command.name}'` };
  }
}

/** Options of {@link DownlinkHandler}. */
export interface DownlinkHandlerOptions {
  store: Pick<AgentStore, "desiredVersion" | "storeDesired" | "hasSeenCommand" | "recordCommand">;
  logger: Logger;
  context: CommandContext;
  /** The settings desired state changes (see `desired_settings.ts`). */
  settings: {
    apply(overrides: Partial<AgentSettings>): void;
    current(): AgentSettings;
  };
}

/** Applies desired state and runs commands; the store persists outcomes with their reports. */
export class DownlinkHandler {
  #options: DownlinkHandlerOptions;

  constructor(options: DownlinkHandlerOptions) {
    this.#options = options;
  }

  /**
   * Applies `message` if its version is newer than the one held: its known keys are checked
   * first, and a bad value fails the whole version (the agent keeps its working settings).
   * The store keeps the message, the version now in force and the reported record (the
   * outcome, with the reason of a failure) in one transaction. Returns true when the message
   * was newer (applied or failed), false when it was ignored.
   */
  async desired(message: Desired): Promise<boolean> {
    const { store, logger, settings } = this.#options;
    const current = await store.desiredVersion();
    if (message.version <= current) {
      logger.debug("desired state not newer; ignored", { version: message.version, current });
      return false;
    }
    const check = checkDesired(message.desired);
    let failure = check.ok ? undefined : check.reason;
    if (check.ok) {
      try {
        settings.apply(check.settings);
      } catch (error) {
        failure = `applying failed: ${(error as Error).message}`;
      }
    }
    const now = Date.now();
    const inForce = settings.current();
    // The store fills in `appliedVersion`: this version, or on failure the one before.
    const report: Omit<ReportedRecord, "appliedVersion"> = {
      type: "reported",
      reported: {
        desiredVersion: message.version,
        logLevel: inForce.logLevel,
        retentionDays: inForce.retentionDays,
        ...(check.ok && check.unknownKeys.length ? { unknownKeys: check.unknownKeys } : {}),
      },
      ts: new Date(now).toISOString(),
      version: message.version,
      outcome: failure === undefined ? "applied" : "failed",
      ...(failure === undefined ? {} : { reason: failure.slice(0, MAX_OUTCOME_REASON) }),
    };
    const stored = await store.storeDesired(message, report, now);
    if (!stored) return false;
    if (failure === undefined) {
      logger.info("desired state applied", {
        version: message.version,
        ...(check.ok && check.unknownKeys.length ? { unknownKeys: check.unknownKeys } : {}),
      });
    } else {
      logger.warn("desired state refused; keeping the settings in force", {
        version: message.version,
        reason: failure,
      });
    }
    return true;
  }

  /** Runs `command` unless its id was seen; the store records it and its result atomically. */
  async command(command: Command): Promise<CommandOutcome | undefined> {
    const { store, logger } = this.#options;
    if (await store.hasSeenCommand(command.id)) {
      logger.info("duplicate command delivery ignored", { id: command.id, name: command.name });
      return undefined;
    }
    const outcome = runCommand(command, this.#options.context);
    const now = Date.now();
    const result: CommandResultRecord = {
      type: "command_result",
      commandId: command.id,
      status: outcome.status,
      ...(outcome.status === "succeeded" && outcome.result !== undefined
        ? { result: outcome.result }
        : {}),
      // Within the protocol's limit: a record the cloud rejects is resent forever and blocks
      // every record after it (found by the chaos fuzzer: an error echoing 10,000 args).
      ...(outcome.status === "failed" ? { error: outcome.error.slice(0, MAX_RESULT_ERROR) } : {}),
      ts: new Date(now).toISOString(),
    };
    const recorded = await store.recordCommand(
      { id: command.id, name: command.name, status: outcome.status },
      result,
      now,
    );
    if (!recorded) return undefined;
    logger.info("command ran", { id: command.id, name: command.name, status: outcome.status });
    return outcome;
  }
}
