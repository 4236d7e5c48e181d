/**
 * Enrollment's provisioner on NATS: minting a device's JWT is local CPU work, so enrolling
 * writes nothing per device to the broker (the O(1) enrollment of issue 19). Only re-enrolling
 * and revoking tell the broker something: the account JWT with the device's revocation.
 *
 * If enrollment fails after `provision` reserved an issue time, the database already revokes
 * the previous JWT (the next push applies it) and the device simply enrolls again.
 * @module
 */
import type { CloudStore } from "../../store/store.ts";
import { type DeviceCredentialsProvisioner, ProvisioningError } from "../credentials.ts";
import { deviceJwt, deviceUserKey, natsDeviceIdProblem } from "./device_credentials.ts";
import type { SigningKey } from "./nkey.ts";
import type { AccountPublisher } from "./revocations.ts";

/** Options of {@link natsProvisioner}. */
export interface NatsProvisionerOptions {
  account: SigningKey;
  store: Pick<
    CloudStore,
    "issueBrokerCredential" | "revokeBrokerCredentials" | "brokerCredentialTimes"
  >;
  publisher: Pick<AccountPublisher, "push" | "confirmed" | "expired">;
  /** Device JWT lifetime (s); absent: valid until revoked. */
  credentialLifetimeSeconds?: number;
}

function unavailable(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  throw new ProvisioningError(
    "broker_unavailable",
    `Cannot update the device's revocation on NATS: ${message}`,
  );
}

/** The NATS JWT provisioner. */
export function natsProvisioner(options: NatsProvisionerOptions): DeviceCredentialsProvisioner {
  const { account, store, publisher } = options;
  return {
    async provision(deviceId) {
      const problem = natsDeviceIdProblem(deviceId);
      if (problem) throw new ProvisioningError("device_id_unsupported", problem);
      const { issuedAt } = await store.issueBrokerCredential(deviceId);
      return {
        username: deviceId,
        password: deviceJwt(account, deviceId, issuedAt, options.credentialLifetimeSeconds),
        passwordHash: null,
      };
    },
    async endSessions(deviceId) {
      const times = await store.brokerCredentialTimes(deviceId);
      // A first enrollment revokes nothing: no broker write at all.
      if (times?.revokedThrough === undefined) return;
      // Renewing an expired JWT (what a device does once per lifetime) tells the broker nothing.
      if (publisher.expired(times.revokedThrough)) return;
      if (publisher.confirmed(deviceUserKey(account, deviceId), times.revokedThrough)) return;
      await publisher.push().catch(unavailable);
    },
    async revoke(deviceId) {
      if (!await store.revokeBrokerCredentials(deviceId)) return;
      await publisher.push().catch(unavailable);
    },
  };
}
