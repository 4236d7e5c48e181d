/**
 * Field rules as plain data (derived on the server from a zod schema's JSON Schema) and the
 * checks both the server-rendered form and its island run, so that a message reads the same
 * whether the browser or the server found the problem. The zod schema stays the authority: the
 * server validates with it after these checks.
 * @module
 */

/** What one form field must satisfy. */
export interface FieldRule {
  label: string;
  required?: boolean;
  /** Help shown under the field. */
  hint?: string;
  /** A JavaScript regular expression source the whole value must match. */
  pattern?: string;
  /** The message when `pattern` does not match, after the label, e.g. "must be 1-64 letters". */
  patternMessage?: string;
  minLength?: number;
  maxLength?: number;
  /** Allowed values. */
  options?: string[];
  /** The text must parse as this JSON type. */
  json?: "object";
  /** A valid value quoted in the JSON messages; default `{"door": 3}`. */
  jsonExample?: string;
}

/** Rules by field name. */
export type FieldRules = Record<string, FieldRule>;

/** The message for the first rule `value` breaks, or undefined when it is fine. */
export function checkField(rule: FieldRule, value: string): string | undefined {
  if (value.trim() === "") return rule.required ? `${rule.label} is required.` : undefined;
  if (rule.maxLength !== undefined && value.length > rule.maxLength) {
    return `${rule.label} must be at most ${rule.maxLength} characters (now ${value.length}).`;
  }
  if (rule.minLength !== undefined && value.length < rule.minLength) {
    return `${rule.label} must be at least ${rule.minLength} characters.`;
  }
  if (rule.options && !rule.options.includes(value)) {
    return `${rule.label} must be one of: ${rule.options.join(", ")}.`;
  }
  if (rule.pattern !== undefined && !new RegExp(rule.pattern).test(value)) {
    return `${rule.label} ${rule.patternMessage ?? `must match ${rule.pattern}`}.`;
  }
  if (rule.json === "object") {
    const example = rule.jsonExample ?? '{"door": 3}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return `${rule.label} must be valid JSON, e.g. ${example}.`;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return `${rule.label} must be a JSON object, e.g. ${example}.`;
    }
  }
  return undefined;
}

/** Checks every field that has a rule; returns the errors by field name. */
export function checkFields(
  rules: FieldRules,
  values: Record<string, string | undefined>,
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [name, rule] of Object.entries(rules)) {
    const message = checkField(rule, values[name] ?? "");
    if (message) errors[name] = message;
  }
  return errors;
}
