/**
 * Device labels in Kubernetes label syntax, checked the same way on both sides: the agent checks
 * `OUTPOST_LABELS` at start, the cloud checks enrollment and `PUT …/labels` (422 naming the bad
 * key or value).
 *
 * A key is an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters:
 * letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit. A value is empty or
 * follows the name rule.
 * @module
 */
import { z } from "zod";

/** The longest label name and value (Kubernetes). */
export const MAX_LABEL_NAME = 63;
/** The longest key prefix (a DNS subdomain). */
export const MAX_LABEL_PREFIX = 253;
/** The most labels one device carries (ours: a label is a filter, not a document). */
export const MAX_LABELS = 64;

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Why `key` is not a label key, or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > MAX_LABEL_PREFIX) {
      return `prefix must be 1-${MAX_LABEL_PREFIX} characters`;
    }
    if (!prefix.split(".").every((part) => DNS_LABEL.test(part))) {
      return "prefix must be a DNS subdomain: lowercase letters, digits, '-' and '.'";
    }
  }
  if (name.length === 0 || name.length > MAX_LABEL_NAME) {
    return `name must be 1-${MAX_LABEL_NAME} characters`;
  }
  if (!NAME.test(name)) {
    return "name must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Why `value` is not a label value, or undefined when it is one. */
export function labelValueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > MAX_LABEL_NAME) return `must be at most ${MAX_LABEL_NAME} characters`;
  if (!NAME.test(value)) {
    return "must be empty or letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** True when `key` is a label key. */
export function isLabelKey(key: string): boolean {
  return labelKeyProblem(key) === undefined;
}

/** True when `value` is a label value. */
export function isLabelValue(value: string): boolean {
  return labelValueProblem(value) === undefined;
}

/**
 * A device's labels: at most {@link MAX_LABELS}, every key and value in Kubernetes syntax. An
 * issue's path names the key (`labels.<key>`), its message says whether the key or the value is
 * wrong and quotes it.
 */
export const Labels = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    ctx.addIssue({
      code: "custom",
      message: `at most ${MAX_LABELS} labels; got ${entries.length}`,
      params: { rule: "max_items", limit: MAX_LABELS },
    });
  }
  for (const [key, value] of entries) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `label key '${key.slice(0, 300)}' is invalid: ${keyProblem}`,
        params: { rule: "label_key" },
      });
      continue;
    }
    const valueProblem = labelValueProblem(value);
    if (valueProblem) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `label value '${value.slice(0, 100)}' of '${key}' is invalid: ${valueProblem}`,
        params: { rule: "label_value" },
      });
    }
  }
});
/** Type of {@link Labels}. */
export type Labels = z.infer<typeof Labels>;

/**
 * Parses `k=v,k2=v2` (the `OUTPOST_LABELS` form; spaces around items are ignored, an empty text
 * is no labels).
 * @throws Error naming the first bad item, key or value.
 */
export function parseLabelList(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq === -1) throw new Error(`'${item.slice(0, 100)}' is not key=value`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) throw new Error(`label key '${key.slice(0, 100)}' is invalid: ${keyProblem}`);
    const valueProblem = labelValueProblem(value);
    if (valueProblem) {
      throw new Error(
        `label value '${value.slice(0, 100)}' of '${key}' is invalid: ${valueProblem}`,
      );
    }
    if (Object.hasOwn(labels, key)) throw new Error(`label key '${key}' is given twice`);
    labels[key] = value;
  }
  if (Object.keys(labels).length > MAX_LABELS) {
    throw new Error(`at most ${MAX_LABELS} labels are allowed`);
  }
  return labels;
}
