/**
 * The device secret: this device's identity towards the cloud. Generated once (32 random
 * bytes, base64url) before the first enrollment and kept in `<data dir>/device-secret` with
 * mode 0600; sent with every enrollment, so the cloud lets this device — and only it —
 * re-enroll its id. It outlives the broker credentials (`credentials.json` is forgotten when
 * the broker refuses them); losing it (a wiped data dir) means an operator approves the next
 * enrollment.
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { DEVICE_SECRET_PATTERN } from "@outpost/protocol";

/** File name of the device secret inside the data dir. */
export const DEVICE_SECRET_FILE = "device-secret";

/** Reads the device secret, generating and storing it (0600) on first use. */
export async function loadDeviceSecret(dataDir: string): Promise<string> {
  const path = join(dataDir, DEVICE_SECRET_FILE);
  try {
    const stored = (await Deno.readTextFile(path)).trim();
    if (DEVICE_SECRET_PATTERN.test(stored)) return stored;
    throw new Error(
      `${path} does not hold a device secret (32-256 printable characters); move it away to start a new identity (the next enrollment then needs an operator's approval)`,
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  try {
    await Deno.writeTextFile(path, secret + "\n", { mode: 0o600, createNew: true });
  } catch (error) {
    // Another process wrote one first: use that, so both agree.
    if (error instanceof Deno.errors.AlreadyExists) return await loadDeviceSecret(dataDir);
    throw error;
  }
  return secret;
}
