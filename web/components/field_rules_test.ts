import assert from "node:assert/strict";
import { checkField, checkFields, type FieldRules } from "./field_rules.ts";

const RULES: FieldRules = {
  kind: {
    label: "Kind",
    required: true,
    pattern: "^[\\w.:/-]{1,64}$",
    patternMessage: "must be 1-64 letters, digits or _ . : / -",
  },
  severity: { label: "Severity", required: true, options: ["info", "warning", "critical"] },
  message: { label: "Message", required: true, minLength: 1, maxLength: 10 },
  data: { label: "Data", json: "object" },
};

Deno.test("checkField names the field and the first broken rule", () => {
  assert.equal(checkField(RULES.kind, ""), "Kind is required.");
  assert.equal(checkField(RULES.kind, "a b"), "Kind must be 1-64 letters, digits or _ . : / -.");
  assert.equal(checkField(RULES.kind, "door.open"), undefined);
  assert.equal(
    checkField(RULES.severity, "loud"),
    "Severity must be one of: info, warning, critical.",
  );
  assert.equal(
    checkField(RULES.message, "x".repeat(11)),
    "Message must be at most 10 characters (now 11).",
  );
  assert.equal(checkField(RULES.data, ""), undefined);
  assert.equal(checkField(RULES.data, "[1]"), 'Data must be a JSON object, e.g. {"door": 3}.');
  assert.equal(checkField(RULES.data, "{oops"), 'Data must be valid JSON, e.g. {"door": 3}.');
  assert.equal(checkField(RULES.data, '{"door":3}'), undefined);
});

Deno.test("checkFields returns only the fields with problems", () => {
  assert.deepEqual(checkFields(RULES, { kind: "ok", severity: "info", message: "hi" }), {});
  assert.deepEqual(Object.keys(checkFields(RULES, {})), ["kind", "severity", "message"]);
});
