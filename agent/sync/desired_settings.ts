/**
 * The settings desired state may change on the agent, checked before anything is applied: a
 * desired state with a bad value is refused whole (the agent keeps its working settings and
 * reports the version `failed` with the reason); keys the agent does not know are kept and
 * reported, not refused (a newer cloud may send what an older agent ignores).
 * @module
 */
import { isLogLevel, LOG_LEVELS, type Logger, type LogLevel } from "@outpost/platform/log";

/** What desired state can change, with the agent's own values as the base. */
export interface AgentSettings {
  logLevel: LogLevel;
  retentionDays: number;
}

/** The desired keys the agent understands. */
export const KNOWN_DESIRED_KEYS: readonly (keyof AgentSettings)[] = ["logLevel", "retentionDays"];

/** Bounds of `retentionDays` (the same as `OUTPOST_RETENTION_DAYS`). */
export const RETENTION_DAYS = { min: 1, max: 3650 } as const;

/** The outcome of {@link checkDesired}. */
export type DesiredCheck =
  | { ok: true; settings: Partial<AgentSettings>; unknownKeys: string[] }
  | { ok: false; reason: string };

function quote(value: unknown): string {
  return String(JSON.stringify(value)).slice(0, 80);
}

/** Checks a desired state: the known keys' values, and which keys are unknown. */
export function checkDesired(desired: Record<string, unknown>): DesiredCheck {
  const settings: Partial<AgentSettings> = {};
  const problems: string[] = [];
  if (Object.hasOwn(desired, "logLevel")) {
    if (isLogLevel(desired.logLevel)) settings.logLevel = desired.logLevel;
    else {problems.push(
        `logLevel must be one of ${LOG_LEVELS.join(", ")}; got ${quote(desired.logLevel)}`,
      );}
  }
  if (Object.hasOwn(desired, "retentionDays")) {
    const days = desired.retentionDays;
    if (
      typeof days === "number" && Number.isInteger(days) && days >= RETENTION_DAYS.min &&
      days <= RETENTION_DAYS.max
    ) {
      settings.retentionDays = days;
    } else {
      problems.push(
        `retentionDays must be a whole number from ${RETENTION_DAYS.min} to ${RETENTION_DAYS.max}; got ${
          quote(days)
        }`,
      );
    }
  }
  if (problems.length) return { ok: false, reason: problems.join("; ") };
  const known = new Set<string>(KNOWN_DESIRED_KEYS);
  return { ok: true, settings, unknownKeys: Object.keys(desired).filter((key) => !known.has(key)) };
}

/**
 * The agent's settings in force: its configured base (flags and environment) overridden by the
 * keys of the desired state last applied. A key removed from desired state falls back to the
 * base.
 */
export class RuntimeSettings {
  #base: AgentSettings;
  #current: AgentSettings;
  #logger: Logger;

  constructor(base: AgentSettings, logger: Logger) {
    this.#base = { ...base };
    this.#current = { ...base };
    this.#logger = logger;
  }

  /** The settings in force. */
  current(): AgentSettings {
    return { ...this.#current };
  }

  /** Days readings and events stay queryable on the device. */
  get retentionDays(): number {
    return this.#current.retentionDays;
  }

  /** Puts `overrides` (from a checked desired state) in force over the base. */
  apply(overrides: Partial<AgentSettings>): void {
    this.#current = { ...this.#base, ...overrides };
    this.#logger.setLevel(this.#current.logLevel);
  }
}
