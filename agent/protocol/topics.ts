/**
 * THE topic contract (protocol v1). Nothing else in the repository spells a topic string.
 *
 * - `outpost/v1/<device>/up/batch`   device → cloud, QoS 1: a contiguous outbox range
 * - `outpost/v1/<device>/up/status`  device → cloud, retained presence (also the Last Will)
 * - `outpost/v1/<device>/up/hello`   device → cloud, QoS 1, not retained: sent on every connect;
 *   the cloud answers with the device's ack position and desired state (see `Hello`)
 * - `outpost/v1/<device>/down/ack`   cloud → device, QoS 1: contiguous high-water mark
 * - `outpost/v1/<device>/down/desired` cloud → device, retained desired state
 * - `outpost/v1/<device>/down/cmd`   cloud → device, QoS 1: a command
 * @module
 */

/** The versioned root of every topic. */
export const TOPIC_ROOT = "outpost/v1";

/** A device id: safe in topics (no `/`, `+`, `#`), file names and URLs. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Uplink message kinds. */
export const UP_KINDS = ["batch", "status", "hello"] as const;
/** Downlink message kinds. */
export const DOWN_KINDS = ["ack", "desired", "cmd"] as const;
/** One of {@link UP_KINDS}. */
export type UpKind = typeof UP_KINDS[number];
/** One of {@link DOWN_KINDS}. */
export type DownKind = typeof DOWN_KINDS[number];

/** True when `id` may be used as a device id. */
export function isDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id);
}

function device(id: string): string {
  if (!isDeviceId(id)) throw new Error(`Invalid device id for a topic: '${id}'`);
  return `${TOPIC_ROOT}/${id}`;
}

/** Topic levels up to and including the device id (`outpost/v1/<id>`). */
export const DEVICE_TOPIC_LEVELS = TOPIC_ROOT.split("/").length + 1;

/** Topic builders. */
export const topics = {
  batch: (id: string) => `${device(id)}/up/batch`,
  status: (id: string) => `${device(id)}/up/status`,
  hello: (id: string) => `${device(id)}/up/hello`,
  ack: (id: string) => `${device(id)}/down/ack`,
  desired: (id: string) => `${device(id)}/down/desired`,
  command: (id: string) => `${device(id)}/down/cmd`,
  /** Everything a device may publish to. */
  deviceUplink: (id: string) => `${device(id)}/up/#`,
  /** Everything a device may subscribe to. */
  deviceDownlink: (id: string) => `${device(id)}/down/#`,
  /** What the cloud ingests: every device's uplink. */
  allUplink: `${TOPIC_ROOT}/+/up/#`,
  /** What the cloud publishes to: every device's downlink. */
  allDownlink: `${TOPIC_ROOT}/+/down/#`,
  /** The same as a shared subscription, so replicas split the load. */
  sharedUplink: (group: string) => `$share/${group}/${TOPIC_ROOT}/+/up/#`,
} as const;

/** A parsed topic: the direction decides which kinds there are. */
export type ParsedTopic =
  | { deviceId: string; direction: "up"; kind: UpKind }
  | { deviceId: string; direction: "down"; kind: DownKind };

/** Parses an `outpost/v1/...` topic; undefined for anything else. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split("/");
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return undefined;
  const [, , deviceId, direction, kind] = parts;
  if (!isDeviceId(deviceId)) return undefined;
  if (direction === "up" && (UP_KINDS as readonly string[]).includes(kind)) {
    return { deviceId, direction, kind: kind as UpKind };
  }
  if (direction === "down" && (DOWN_KINDS as readonly string[]).includes(kind)) {
    return { deviceId, direction, kind: kind as DownKind };
  }
  return undefined;
}

/**
 * The per-device ACL: may `deviceId` publish to / subscribe to `topic`?
 * Subscriptions may use wildcards only inside the device's own `down/` subtree.
 */
export function deviceMayPublish(deviceId: string, topic: string): boolean {
  const parsed = parseTopic(topic);
  return parsed?.deviceId === deviceId && parsed.direction === "up";
}

/** See {@link deviceMayPublish}. */
export function deviceMaySubscribe(deviceId: string, filter: string): boolean {
  if (!isDeviceId(deviceId)) return false;
  const own = `${TOPIC_ROOT}/${deviceId}/down/`;
  if (filter === `${TOPIC_ROOT}/${deviceId}/down/#`) return true;
  if (!filter.startsWith(own)) return false;
  const rest = filter.slice(own.length);
  return rest === "+" || (DOWN_KINDS as readonly string[]).includes(rest);
}
