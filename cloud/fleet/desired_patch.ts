/**
 * Pure functions on desired state: JSON merge patch (RFC 7396), the top-level changes a patch
 * makes (what a rollout records per device so it can be rolled back), undoing such changes, and
 * the precedence of a per-device PUT over running rollouts.
 * @module
 */

/** A desired state: a JSON object. */
export type DesiredState = Record<string, unknown>;

/**
 * One top-level key a rollout changed on one device: the value before and after. A missing
 * `before`/`after` means the key was / became absent.
 */
export interface DesiredChange {
  key: string;
  before?: unknown;
  after?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Applies a JSON merge patch (RFC 7396) to `target`; neither argument is modified. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Deep equality of JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}

/** True when `key` is present in one and not the other, or has different values. */
function differs(a: DesiredState, b: DesiredState, key: string): boolean {
  return Object.hasOwn(a, key) !== Object.hasOwn(b, key) || !jsonEqual(a[key], b[key]);
}

function change(key: string, before: DesiredState, after: DesiredState): DesiredChange {
  return {
    key,
    ...(Object.hasOwn(before, key) ? { before: before[key] } : {}),
    ...(Object.hasOwn(after, key) ? { after: after[key] } : {}),
  };
}

/** What applying a rollout's patch to one device's desired state gives. */
export interface PatchPlan {
  desired: DesiredState;
  /** The top-level keys whose value changed (empty: nothing to send). */
  changes: DesiredChange[];
}

/**
 * Applies `patch` to `desired`, leaving out the top-level keys in `pinned` (a per-device PUT set
 * them after the rollout was created: the PUT wins for the keys it sets).
 */
export function planPatch(
  desired: DesiredState,
  patch: DesiredState,
  pinned: ReadonlySet<string> = new Set(),
): PatchPlan {
  const effective = Object.fromEntries(Object.entries(patch).filter(([key]) => !pinned.has(key)));
  const next = mergePatch(desired, effective) as DesiredState;
  const changes = Object.keys(effective)
    .filter((key) => differs(desired, next, key))
    .map((key) => change(key, desired, next));
  return { desired: next, changes };
}

/**
 * Undoes `changes` on `desired`: each key whose value is still what the change set gets its
 * `before` value back (or is removed). A key changed since (e.g. by a per-device PUT) is left.
 */
export function planRestore(desired: DesiredState, changes: DesiredChange[]): PatchPlan {
  const next: DesiredState = { ...desired };
  const done: DesiredChange[] = [];
  for (const item of changes) {
    const stillSet = Object.hasOwn(item, "after")
      ? Object.hasOwn(desired, item.key) && jsonEqual(desired[item.key], item.after)
      : !Object.hasOwn(desired, item.key);
    if (!stillSet) continue;
    if (Object.hasOwn(item, "before")) next[item.key] = item.before;
    else delete next[item.key];
    if (differs(desired, next, item.key)) done.push(change(item.key, desired, next));
  }
  return { desired: next, changes: done };
}

/**
 * A per-device PUT while rollouts that already reached the device are running: the PUT's body
 * replaces the desired state and wins for every key it sets; each key such a rollout changed and
 * the body does not set keeps the rollout's value (oldest rollout first, so a newer one wins).
 */
export function putOverRollouts(body: DesiredState, active: DesiredChange[][]): DesiredState {
  const result: DesiredState = { ...body };
  for (const changes of active) {
    for (const item of changes) {
      if (Object.hasOwn(body, item.key)) continue;
      if (Object.hasOwn(item, "after")) result[item.key] = item.after;
      else delete result[item.key];
    }
  }
  return result;
}
