/**
 * The rollout and job forms of the console, checked on the server with the API's own schemas
 * (`RolloutInput`, `JobInput`): the console creates exactly what the API would, and a bad field
 * gets the API's message. Errors are keyed by form field name.
 * @module
 */
import type { z } from "zod";
import { LOG_LEVELS } from "@outpost/platform/log";
import { JobInput, RolloutInput } from "../http/schemas.ts";
import { COMMAND_CHOICES } from "./device_forms.ts";

/** The rollout form's fields as typed (re-shown after a failed post). */
export interface RolloutFormValues {
  name: string;
  selector: string;
  desired: string;
  waves: string;
  failureThresholdPercent: string;
  applyTimeoutSeconds: string;
}

/** The job form's fields as typed. */
export interface JobFormValues {
  name: string;
  selector: string;
  command: string;
  level: string;
  ratePerMinute: string;
}

/** What a checked form gives: the API's input, or the values and errors to show again. */
export type FormResult<T, V> =
  | { ok: true; input: T; values: V }
  | { ok: false; values: V; errors: Record<string, string> };

/** The rollout form's defaults. */
export const ROLLOUT_DEFAULTS: RolloutFormValues = {
  name: "",
  selector: "",
  desired: '{\n  "logLevel": "debug"\n}',
  waves: "10:300, 50:300, 100",
  failureThresholdPercent: "5",
  applyTimeoutSeconds: "900",
};

/** The job form's defaults. */
export const JOB_DEFAULTS: JobFormValues = {
  name: "",
  selector: "",
  command: "ping",
  level: "info",
  ratePerMinute: "",
};

/**
 * Reads waves written as `percent[:bakeSeconds]` separated by commas (`10:300, 50:300, 100`).
 * @returns the waves, or the message naming the bad item.
 */
export function parseWavesText(
  text: string,
): { ok: true; waves: { percent: number; bakeSeconds: number }[] } | { ok: false; error: string } {
  const waves: { percent: number; bakeSeconds: number }[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const match = /^(\d+(?:\.\d+)?)\s*%?\s*(?::\s*(\d+)\s*s?)?$/.exec(item);
    if (!match) {
      return {
        ok: false,
        error: `Waves: '${item.slice(0, 40)}' is not percent or percent:bakeSeconds (e.g. 10:300).`,
      };
    }
    waves.push({ percent: Number(match[1]), bakeSeconds: Number(match[2] ?? 0) });
  }
  if (waves.length === 0) return { ok: false, error: "Waves: give at least one, e.g. 100." };
  return { ok: true, waves };
}

/** The form field a schema issue belongs to (`waves.1.percent` → `waves`). */
function fieldOf(path: PropertyKey[], fields: readonly string[], fallback: string): string {
  const first = String(path[0] ?? "");
  if (first === "command") return "command";
  return fields.includes(first) ? first : fallback;
}

function errorsOf(
  error: z.ZodError,
  fields: readonly string[],
  fallback: string,
  labels: Record<string, string>,
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = fieldOf(issue.path, fields, fallback);
    if (errors[field]) continue;
    const where = issue.path.length > 1 ? ` (${issue.path.slice(1).join(".")})` : "";
    errors[field] = `${labels[field] ?? field}${where}: ${issue.message}.`;
  }
  return errors;
}

const ROLLOUT_FIELDS = [
  "name",
  "selector",
  "desired",
  "waves",
  "failureThresholdPercent",
  "applyTimeoutSeconds",
] as const;

/** Labels of the rollout form's fields (also used in messages). */
export const ROLLOUT_LABELS: Record<string, string> = {
  name: "Name",
  selector: "Label selector",
  desired: "Desired state patch",
  waves: "Waves",
  failureThresholdPercent: "Failure threshold (%)",
  applyTimeoutSeconds: "Apply timeout (seconds)",
};

/** Checks a posted rollout form. */
export function parseRolloutForm(
  fields: Record<string, string>,
): FormResult<z.output<typeof RolloutInput>, RolloutFormValues> {
  const values: RolloutFormValues = {
    name: fields.name ?? "",
    selector: fields.selector ?? "",
    desired: fields.desired ?? "",
    waves: fields.waves ?? "",
    failureThresholdPercent: fields.failureThresholdPercent ?? "",
    applyTimeoutSeconds: fields.applyTimeoutSeconds ?? "",
  };
  const errors: Record<string, string> = {};
  let desired: unknown;
  try {
    desired = JSON.parse(values.desired);
  } catch (error) {
    errors.desired = `Desired state patch is not JSON: ${(error as Error).message.slice(0, 120)}.`;
  }
  const waves = parseWavesText(values.waves);
  if (!waves.ok) errors.waves = waves.error;
  const number = (text: string) => (text.trim() === "" ? undefined : Number(text));
  const result = RolloutInput.safeParse({
    name: values.name,
    selector: values.selector,
    desired: desired ?? {},
    waves: waves.ok ? waves.waves : [{ percent: 100, bakeSeconds: 0 }],
    ...(number(values.failureThresholdPercent) !== undefined
      ? { failureThresholdPercent: number(values.failureThresholdPercent) }
      : {}),
    ...(number(values.applyTimeoutSeconds) !== undefined
      ? { applyTimeoutSeconds: number(values.applyTimeoutSeconds) }
      : {}),
  });
  if (!result.success) {
    Object.assign(errors, {
      ...errorsOf(result.error, ROLLOUT_FIELDS, "name", ROLLOUT_LABELS),
      ...errors,
    });
  }
  if (Object.keys(errors).length || !result.success) return { ok: false, values, errors };
  return { ok: true, input: result.data, values };
}

/** Labels of the job form's fields. */
export const JOB_LABELS: Record<string, string> = {
  name: "Name",
  selector: "Label selector",
  command: "Command",
  level: "Log level",
  ratePerMinute: "Rate (commands per minute)",
};

const JOB_FIELDS = ["name", "selector", "command", "ratePerMinute"] as const;

/** Checks a posted job form. */
export function parseJobForm(
  fields: Record<string, string>,
): FormResult<z.output<typeof JobInput>, JobFormValues> {
  const values: JobFormValues = {
    name: fields.name ?? "",
    selector: fields.selector ?? "",
    command: fields.command ?? "",
    level: fields.level ?? "",
    ratePerMinute: fields.ratePerMinute ?? "",
  };
  const errors: Record<string, string> = {};
  if (!Object.hasOwn(COMMAND_CHOICES, values.command)) {
    errors.command = `Command must be one of: ${Object.keys(COMMAND_CHOICES).join(", ")}.`;
  }
  if (
    values.command === "set-log-level" && !(LOG_LEVELS as readonly string[]).includes(values.level)
  ) {
    errors.level = `Log level must be one of: ${LOG_LEVELS.join(", ")}.`;
  }
  const rate = values.ratePerMinute.trim();
  const result = JobInput.safeParse({
    ...(values.name.trim() ? { name: values.name } : {}),
    selector: values.selector,
    command: values.command === "set-log-level"
      ? { name: values.command, args: { level: values.level } }
      : { name: values.command },
    ...(rate ? { ratePerMinute: Number(rate) } : {}),
  });
  if (!result.success) {
    Object.assign(errors, { ...errorsOf(result.error, JOB_FIELDS, "name", JOB_LABELS), ...errors });
  }
  if (Object.keys(errors).length || !result.success) return { ok: false, values, errors };
  return { ok: true, input: result.data, values };
}
