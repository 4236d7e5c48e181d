/**
 * A device's NATS credentials: a bearer user JWT, signed by the Outpost account, whose subject
 * is a user key derived from the account seed and the device id. Deriving the key means one
 * revocation entry per device however often it re-enrolls, and no per-device key to store;
 * nobody holds a private key for it (a bearer JWT is the whole credential, which is how MQTT
 * clients log in: the JWT is the MQTT password).
 * @module
 */
import { createHmac } from "node:crypto";
import { topics } from "@outpost/protocol";
import { userJwt } from "./jwt.ts";
import { encodePublicKey, type SigningKey } from "./nkey.ts";

/** Why a device id cannot be served by NATS, or undefined when it can. */
export function natsDeviceIdProblem(deviceId: string): string | undefined {
  if (deviceId.includes(".")) {
    return `Device id '${deviceId}' contains '.', which this broker (NATS) cannot carry in MQTT topics; enroll under an id of letters, digits, '_' and '-'`;
  }
  return undefined;
}

/** The NATS subject of an MQTT topic: `/` → `.`, a trailing `#` → `>`, `+` → `*`. */
export function subjectOfTopic(topic: string): string {
  return topic.replaceAll("/", ".").replace(/#$/, ">").replaceAll("+", "*");
}

/** The MQTT topic of a subject of Outpost's (ids never contain `.`). */
export function topicOfSubject(subject: string): string {
  return subject.replaceAll(".", "/");
}

/** The user public key (`U…`) of `deviceId`: HMAC-SHA256 of the id keyed by the account seed. */
export function deviceUserKey(account: SigningKey, deviceId: string): string {
  const raw = createHmac("sha256", account.seed).update(`outpost-device-user/v1\0${deviceId}`)
    .digest();
  return encodePublicKey("user", new Uint8Array(raw));
}

/** What a device may do: publish its own uplink, subscribe to its own downlink. */
export function devicePermissions(deviceId: string) {
  const down = subjectOfTopic(topics.deviceDownlink(deviceId)); // ends in `.down.>`
  return {
    pub: { allow: [subjectOfTopic(topics.deviceUplink(deviceId))] },
    // `down` itself too (an MQTT `down/#` filter matches it); `$MQTT.sub.>` is how NATS 2.9
    // delivers QoS 1 to an MQTT session; an MQTT client cannot name it (no `$` topics).
    sub: { allow: [down.slice(0, -2), down, "$MQTT.sub.>"] },
  };
}

/**
 * The device's MQTT password: its user JWT, valid until revoked and, with `lifetimeSeconds`,
 * until `issuedAt + lifetimeSeconds` (then the node refuses it and the agent enrolls again with
 * its device secret; an expiry is what lets old revocations be dropped).
 */
export function deviceJwt(
  account: SigningKey,
  deviceId: string,
  issuedAt: number,
  lifetimeSeconds?: number,
): string {
  return userJwt(account, {
    subject: deviceUserKey(account, deviceId),
    name: deviceId,
    issuedAt,
    ...(lifetimeSeconds ? { expires: issuedAt + lifetimeSeconds } : {}),
  }, {
    ...devicePermissions(deviceId),
    bearer_token: true,
    // No native NATS connection: only the MQTT listener, with its topic rules.
    allowed_connection_types: ["MQTT"],
  });
}
