/**
 * Device credentials for the broker: what enrollment hands out and how the embedded broker
 * checks them.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";

/** Broker credentials of one device, as enrollment returns them. */
export interface DeviceCredentials {
  username: string;
  password: string;
  /** What the device table stores to check the password later; null when the broker does. */
  passwordHash: string | null;
}

/** Why a broker could not provision a device's credentials. */
export type ProvisioningFailure =
  | "broker_unavailable"
  | "provisioning_unavailable"
  | "device_id_taken"
  | "device_disabled";

/** Thrown by a {@link DeviceCredentialsProvisioner}; the HTTP layer maps `code` to a status. */
export class ProvisioningError extends Error {
  constructor(readonly code: ProvisioningFailure, message: string) {
    super(message);
    this.name = "ProvisioningError";
  }
}

/** Creates (or rotates) a device's broker credentials at enrollment. */
export interface DeviceCredentialsProvisioner {
  /** Creates or rotates the credentials of `deviceId`; the old password stops working. */
  provision(deviceId: string): Promise<DeviceCredentials>;
}

/**
 * Hashes a broker password for the device table. A single salted SHA-256 is enough because
 * the password is 32 random bytes, not something a person chose: there is nothing to guess.
 */
export function hashPassword(password: string, salt?: Uint8Array): string {
  const saltBytes = salt ?? crypto.getRandomValues(new Uint8Array(16));
  const saltHex = Buffer.from(saltBytes).toString("hex");
  const digest = createHash("sha256").update(saltBytes).update(password).digest("hex");
  return `sha256$${saltHex}$${digest}`;
}

/** Checks a password against {@link hashPassword}'s output in constant time. */
export function verifyPassword(password: string, stored: string): boolean {
  const parts = stored.split("$");
  if (parts.length !== 3 || parts[0] !== "sha256" || !/^[0-9a-f]{2,}$/.test(parts[1])) {
    return false;
  }
  const expected = Buffer.from(parts[2], "hex");
  const actual = createHash("sha256").update(Buffer.from(parts[1], "hex")).update(password)
    .digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A fresh broker password: 32 random bytes, base64url (43 characters). */
export function randomPassword(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/**
 * The embedded broker's provisioner: a fresh random password whose hash goes into the device
 * table, where the embedded broker's `authenticate` checks it.
 */
export function deviceTableProvisioner(): DeviceCredentialsProvisioner {
  return {
    provision(deviceId) {
      const password = randomPassword();
      return Promise.resolve({
        username: deviceId,
        password,
        passwordHash: hashPassword(password),
      });
    },
  };
}

/**
 * The provisioner for an external broker without dynsec admin credentials: enrollment cannot
 * create broker users there, so it answers 503 naming the settings to set. With them,
 * `mosquitto.ts` provisions through Mosquitto's dynamic-security plugin.
 */
export function unconfiguredProvisioner(): DeviceCredentialsProvisioner {
  return {
    provision() {
      return Promise.reject(
        new ProvisioningError(
          "provisioning_unavailable",
          "Mosquitto provisioning not configured: OUTPOST_MQTT_URL names an external broker but OUTPOST_MQTT_USERNAME and OUTPOST_MQTT_PASSWORD (a Mosquitto dynamic-security admin) are not both set",
        ),
      );
    },
  };
}
