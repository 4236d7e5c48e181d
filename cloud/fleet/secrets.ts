/**
 * The secrets of device identity as the cloud keeps them: a device secret and an enrollment
 * token are high-entropy random strings, so one SHA-256 (keyed by the device id for device
 * secrets) is enough to store them — there is nothing to guess — and lookups can go by hash.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";

/** The prefix of enrollment tokens the cloud issues (tells them apart from the bootstrap). */
export const ENROLLMENT_TOKEN_PREFIX = "oet_";

/** SHA-256 (hex) of a device's secret, bound to its id. */
export function hashDeviceSecret(deviceId: string, secret: string): string {
  return createHash("sha256").update(`outpost-device-secret/v1\0${deviceId}\0${secret}`)
    .digest("hex");
}

/** SHA-256 (hex) of an enrollment token. */
export function hashToken(token: string): string {
  return createHash("sha256").update(`outpost-enrollment-token/v1\0${token}`).digest("hex");
}

/** Compares two hex hashes in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** A fresh enrollment token: `oet_` and 32 random bytes, base64url (47 characters). */
export function generateEnrollmentToken(): string {
  return ENROLLMENT_TOKEN_PREFIX +
    Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}
