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
  | "device_disabled"
  | "device_id_unsupported";

/** Thrown by a {@link DeviceCredentialsProvisioner}; the HTTP layer maps `code` to a status. */
export class ProvisioningError extends Error {
  constructor(readonly code: ProvisioningFailure, message: string) {
    super(message);
    this.name = "ProvisioningError";
  }
}

/**
 * A broker backend's handle on device credentials: what enrollment and the fleet's lifecycle
 * actions (revoke, decommission, delete) ask of the broker. One implementation per backend
 * (`deviceTableProvisioner` for the embedded broker, `dynsecProvisioner` for Mosquitto;
 * a new backend implements the same contract).
 *
 * Every method either resolves having done all it says, or rejects with a
 * {@link ProvisioningError} (never an `HttpError`: the HTTP layer maps the code to a status):
 * `broker_unavailable` when the broker cannot be reached or does not answer in time (the
 * caller answers 503 and the operator or device retries), `provisioning_unavailable` when the
 * backend is not configured to manage credentials, `device_id_taken` when the id names a broker
 * user that is not an Outpost device, `device_disabled` when an operator disabled the device in
 * the broker itself, `device_id_unsupported` when the broker cannot serve a device of that id
 * (NATS: no `.` in ids). Every method is idempotent: calling it again after a failure (or a success)
 * is safe.
 *
 * Order of calls, which the cloud keeps:
 * - Enrollment: `provision(id)`; the cloud commits the device (storing `passwordHash` when it is
 *   not null); then `endSessions(id)`. The device's old password must be refused from the end
 *   of `endSessions` on, and no session that logged in with it may remain.
 * - Revoke, decommission, delete: the cloud first marks the device so in its database (ingest
 *   refuses its messages from then on, and a table-backed broker refuses its password), then
 *   calls `revoke(id)`.
 */
export interface DeviceCredentialsProvisioner {
  /**
   * Creates the broker credentials of `deviceId` (user name = device id, client id bound to
   * it, a role granting exactly its own topics), or replaces the password of an existing one.
   * Returns a fresh random password. A backend that keeps credentials itself stores them here
   * and returns `passwordHash: null`; a backend that checks the cloud's device table returns
   * the hash for the cloud to store.
   */
  provision(deviceId: string): Promise<DeviceCredentials>;
  /**
   * Disconnects every current session of `deviceId` that logged in before the latest
   * `provision` was committed. Called after enrollment's commit; a backend whose `provision`
   * already disconnected them (Mosquitto's `modifyClient` does) may resolve at once. A device
   * that is not connected is not an error.
   */
  endSessions(deviceId: string): Promise<void>;
  /**
   * Removes the broker credentials of `deviceId` and disconnects its sessions: from when this
   * resolves, the broker refuses the device at connect and it has no session left. Revoking a
   * device that has no credentials (never provisioned, or already revoked) resolves.
   */
  revoke(deviceId: string): Promise<void>;
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

/** What {@link deviceTableProvisioner} needs from the broker that checks the device table. */
export interface SessionControl {
  /** Closes every connection of the client `deviceId`; resolves when they are closed. */
  disconnect(deviceId: string): Promise<void>;
}

/**
 * The embedded broker's provisioner: a fresh random password whose hash goes into the device
 * table, where the embedded broker's `authenticate` checks it. The broker keeps nothing, so
 * revoking is the cloud clearing the hash (it does, before calling `revoke`) and this closing
 * the sessions; `sessions` is the broker (none in unit tests: nothing to close).
 */
export function deviceTableProvisioner(sessions?: SessionControl): DeviceCredentialsProvisioner {
  const disconnect = (deviceId: string) => sessions?.disconnect(deviceId) ?? Promise.resolve();
  return {
    provision(deviceId) {
      const password = randomPassword();
      return Promise.resolve({
        username: deviceId,
        password,
        passwordHash: hashPassword(password),
      });
    },
    // The new hash is committed: a session that logged in with the old password must go now,
    // and reconnecting with that password is refused.
    endSessions: disconnect,
    revoke: disconnect,
  };
}

/**
 * The provisioner for an external broker without dynsec admin credentials: enrollment cannot
 * create broker users there, so it answers 503 naming the settings to set. With them,
 * `mosquitto.ts` provisions through Mosquitto's dynamic-security plugin.
 */
export function unconfiguredProvisioner(): DeviceCredentialsProvisioner {
  const refuse = () =>
    Promise.reject(
      new ProvisioningError(
        "provisioning_unavailable",
        "Mosquitto provisioning not configured: OUTPOST_MQTT_URL names an external broker but OUTPOST_MQTT_USERNAME and OUTPOST_MQTT_PASSWORD (a Mosquitto dynamic-security admin) are not both set",
      ),
    );
  return { provision: refuse, endSessions: refuse, revoke: refuse };
}
