/**
 * The new-event form: field rules derived from the API's zod `EventInput` schema (so the form
 * and the API cannot drift apart) and the server-side check of a posted form.
 * @module
 */
import { z } from "zod";
import { EventInput } from "../http/schemas.ts";
import type { NewEvent } from "../store/store.ts";
import { checkFields, type FieldRule, type FieldRules } from "@outpost/web/components/field_rules";
import type { EventFormValues } from "./islands/events_panel.tsx";

const COPY: Record<keyof EventFormValues, { label: string; hint?: string }> = {
  kind: { label: "Kind", hint: "What happened, as a short key, e.g. door.open or pump:fault." },
  severity: { label: "Severity" },
  message: { label: "Message" },
  data: { label: "Data", hint: 'A JSON object with details, e.g. {"door": 3}.' },
};

interface JsonSchemaProperty {
  type?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  enum?: string[];
}

/** The form's rules, read from `EventInput`'s JSON Schema and its own pattern message. */
export function eventFieldRules(): FieldRules {
  const schema = z.toJSONSchema(EventInput, { io: "input" }) as {
    properties: Record<string, JsonSchemaProperty>;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  const rules: FieldRules = {};
  for (const [name, copy] of Object.entries(COPY)) {
    const property = schema.properties[name] ?? {};
    const rule: FieldRule = { label: copy.label, required: required.has(name) };
    if (copy.hint) rule.hint = copy.hint;
    if (property.pattern) {
      rule.pattern = property.pattern;
      // The schema's own words for a mismatch, e.g. "must be 1-64 letters, digits or …".
      const probe = EventInput.shape[name as "kind"].safeParse(" ");
      const issue = probe.success ? undefined : probe.error.issues[0];
      if (issue?.code === "invalid_format") rule.patternMessage = issue.message;
    }
    if (property.minLength !== undefined) rule.minLength = property.minLength;
    if (property.maxLength !== undefined) rule.maxLength = property.maxLength;
    if (property.enum) rule.options = property.enum;
    if (property.type === "object") rule.json = "object";
    rules[name] = rule;
  }
  return rules;
}

/** The outcome of checking a posted form. */
export type EventFormResult =
  | { ok: true; values: EventFormValues; event: NewEvent }
  | { ok: false; values: EventFormValues; errors: Record<string, string> };

/** An empty form (severity preset to `info`). */
export function emptyEventForm(): EventFormValues {
  return { kind: "", severity: "info", message: "", data: "" };
}

/**
 * Checks posted fields with the form's rules, then with `EventInput` itself (the authority);
 * errors are keyed by field name.
 */
export function parseEventForm(
  fields: Record<string, string>,
  rules: FieldRules,
): EventFormResult {
  const values: EventFormValues = {
    kind: fields.kind ?? "",
    severity: fields.severity ?? "",
    message: fields.message ?? "",
    data: fields.data ?? "",
  };
  const errors = checkFields(rules, { ...values });
  const candidate: Record<string, unknown> = {
    kind: values.kind.trim(),
    severity: values.severity,
    message: values.message,
  };
  if (values.data.trim() !== "" && !errors.data) candidate.data = JSON.parse(values.data);
  const result = EventInput.safeParse(candidate);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = typeof issue.path[0] === "string" && issue.path[0] in COPY
        ? issue.path[0]
        : "form";
      errors[name] ??= `${rules[name]?.label ?? "Form"} ${issue.message}`;
    }
  }
  if (!result.success || Object.keys(errors).length) return { ok: false, values, errors };
  // The form has no time field: the event happened when it is stored.
  const { ts: _ts, ...event } = result.data;
  return { ok: true, values, event };
}
