/**
 * Finds fields of a Kubernetes object that its schema does not declare.
 *
 * `new Kind(obj).validate()` from `kubernetes-models` checks types, enums and required fields,
 * but accepts any unknown field, so a misspelled `imagePullPolicyy` or `dependOn` passes. The
 * package ships its schemas only as compiled validator functions, which read every property
 * their schema declares (`data.spec`, `data.metadata`, ...) and enumerate the keys of map-like
 * objects (labels, resource quantities). So the walk runs the model's own validator over a
 * proxy of the object and records, per object, which properties the schema asked for: any
 * other key of an object whose schema declares properties is an unknown field.
 *
 * - An object the validator enumerated is a map (`additionalProperties`): every key is fine.
 * - An object the validator never looked into has a free-form schema (or sits below an
 *   unknown field, which is reported itself): it is not checked.
 * - A declared property whose schema accepts anything is never read either, so it looks
 *   unknown: list it in {@link FindUnknownFieldsOptions.alsoDeclared}. The package's generator
 *   also strips every property literally named `description` (it mistakes it for the JSON
 *   Schema keyword), e.g. `PriorityClass.description`.
 * @module
 */

/** A model class from `kubernetes-models` or `@kubernetes-models/flux-cd`. */
export interface ModelClass {
  /** Creates a model instance from plain data. */
  new (data?: never): { validate(): void };
  /** The model's validator, installed on the prototype by the package. */
  readonly prototype: { validate(): void };
  /** The apiVersion the model validates. */
  readonly apiVersion: string;
  /** The kind the model validates. */
  readonly kind: string;
}

interface Reads {
  keys: Set<string>;
  enumerated: boolean;
}

/** Options of {@link findUnknownFields}. */
export interface FindUnknownFieldsOptions {
  /**
   * JSON pointers of fields that the schema declares although its validator never reads
   * them; `*` matches any one segment (e.g. an array index).
   */
  alsoDeclared?: string[];
}

/**
 * Returns the JSON pointer of every field of `value` that the schema of `model` does not
 * declare, e.g. `["/spec/template/spec/containres"]`; an empty array when there is none.
 * Schema errors other than unknown fields are left to `new Kind(value).validate()`.
 */
export function findUnknownFields(
  model: ModelClass,
  value: unknown,
  options: FindUnknownFieldsOptions = {},
): string[] {
  const reads = new Map<object, Reads>();
  const proxied = observe(value, reads);
  try {
    model.prototype.validate.call(proxied);
  } catch {
    // Invalid values are reported by validate() itself; the reads made so far still count.
  }
  const unknown: string[] = [];
  collectUnknown(value, "", reads, unknown);
  const declared = (options.alsoDeclared ?? []).map(pointerPattern);
  return unknown.filter((path) => !declared.some((pattern) => pattern.test(path)));
}

function pointerPattern(pointer: string): RegExp {
  const escaped = pointer.split("/").map((segment) =>
    segment === "*" ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  );
  return new RegExp(`^${escaped.join("/")}$`);
}

function observe(value: unknown, reads: Map<object, Reads>): unknown {
  if (value === null || typeof value !== "object") return value;
  const target = value as Record<PropertyKey, unknown>;
  return new Proxy(target, {
    get(object, key, receiver) {
      if (typeof key === "string") readsOf(object, reads).keys.add(key);
      return observe(Reflect.get(object, key, receiver), reads);
    },
    has(object, key) {
      if (typeof key === "string") readsOf(object, reads).keys.add(key);
      return Reflect.has(object, key);
    },
    ownKeys(object) {
      readsOf(object, reads).enumerated = true;
      return Reflect.ownKeys(object);
    },
  });
}

function readsOf(object: object, reads: Map<object, Reads>): Reads {
  let entry = reads.get(object);
  if (!entry) {
    entry = { keys: new Set(), enumerated: false };
    reads.set(object, entry);
  }
  return entry;
}

function collectUnknown(
  value: unknown,
  path: string,
  reads: Map<object, Reads>,
  unknown: string[],
): void {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => collectUnknown(item, `${path}/${index}`, reads, unknown));
    return;
  }
  const entry = reads.get(value);
  for (const [key, child] of Object.entries(value)) {
    const childPath = `${path}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
    if (entry && !entry.enumerated && !entry.keys.has(key)) {
      unknown.push(childPath);
      continue;
    }
    collectUnknown(child, childPath, reads, unknown);
  }
}
