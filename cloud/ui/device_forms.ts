/**
 * The device page's two forms checked on the server: the desired state editor (a JSON object,
 * validated with the API's own `DesiredInput` schema and size limit) and the command buttons
 * (a known command, validated with the API's `CommandInput`). Errors are keyed by field name.
 * @module
 */
import { LOG_LEVELS } from "@outpost/platform/log";
import { MAX_DESIRED_BYTES } from "../fleet/operations.ts";
import { CommandInput, DesiredInput } from "../http/schemas.ts";
import { checkField, type FieldRule } from "@outpost/web/components/field_rules";

/** The editor's field rule (label, required, must be a JSON object). */
export const DESIRED_RULE: FieldRule = {
  label: "Desired state",
  required: true,
  json: "object",
  jsonExample: '{"logLevel": "debug"}',
};

/** The outcome of checking a posted desired state. */
export type DesiredFormResult =
  | { ok: true; desired: Record<string, unknown> }
  | { ok: false; value: string; errors: Record<string, string> };

/** Checks the `desired` field: JSON, an object, at most the API's size, and `DesiredInput`. */
export function parseDesiredForm(fields: Record<string, string>): DesiredFormResult {
  const value = fields.desired ?? "";
  const fail = (message: string): DesiredFormResult => ({
    ok: false,
    value,
    errors: { desired: message },
  });
  const problem = checkField(DESIRED_RULE, value);
  if (problem) return fail(problem);
  const parsed = JSON.parse(value);
  const bytes = new TextEncoder().encode(JSON.stringify(parsed)).byteLength;
  if (bytes > MAX_DESIRED_BYTES) {
    return fail(
      `Desired state must be at most ${MAX_DESIRED_BYTES / 1024} KiB as JSON (now ${
        Math.ceil(bytes / 1024)
      } KiB).`,
    );
  }
  const result = DesiredInput.safeParse(parsed);
  if (!result.success) return fail(`Desired state ${result.error.issues[0].message}.`);
  return { ok: true, desired: result.data };
}

/** The commands the console offers, with what each does. */
export const COMMAND_CHOICES = {
  ping: { label: "Ping", help: "Checks that the device answers." },
  resync: { label: "Resync", help: "Makes the device resend everything the cloud has not acked." },
  "set-log-level": { label: "Set log level", help: "Changes how much the agent logs." },
} as const;

/** One of the offered command names. */
export type CommandChoice = keyof typeof COMMAND_CHOICES;

/** Log levels the set-log-level command takes (the agent's own list). */
export const LOG_LEVEL_CHOICES: readonly string[] = LOG_LEVELS;

/** The outcome of checking a posted command form. */
export type CommandFormResult =
  | { ok: true; command: { name: string; args?: Record<string, unknown> } }
  | { ok: false; level: string; errors: Record<string, string> };

/** Checks a command button's fields (`name`, and `level` for set-log-level). */
export function parseCommandForm(fields: Record<string, string>): CommandFormResult {
  const name = fields.name ?? "";
  const level = fields.level ?? "";
  const fail = (field: string, message: string): CommandFormResult => ({
    ok: false,
    level,
    errors: { [field]: message },
  });
  if (!Object.hasOwn(COMMAND_CHOICES, name)) {
    return fail("command", `Command must be one of: ${Object.keys(COMMAND_CHOICES).join(", ")}.`);
  }
  let args: Record<string, unknown> | undefined;
  if (name === "set-log-level") {
    const problem = checkField(
      { label: "Log level", required: true, options: [...LOG_LEVEL_CHOICES] },
      level,
    );
    if (problem) return fail("level", problem);
    args = { level };
  }
  const result = CommandInput.safeParse(args ? { name, args } : { name });
  if (!result.success) return fail("command", `Command ${result.error.issues[0].message}.`);
  return { ok: true, command: result.data };
}
