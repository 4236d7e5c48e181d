/**
 * The device's MQTT credentials from enrollment, kept in the data dir with mode 0600.
 * @module
 */
import { join } from "node:path";
import { EnrollResponse } from "@outpost/protocol";

/** File name of the credentials inside the data dir. */
export const CREDENTIALS_FILE = "credentials.json";

/** What enrollment gave this device, and against which cloud. */
export interface Credentials {
  cloudUrl: string;
  deviceId: string;
  enrolledAt: string;
  mqtt: EnrollResponse["mqtt"];
}

/**
 * Credentials as the file holds them: files written before `downlinkQos` lack it, and
 * {@link loadCredentials} reads them as 1.
 */
export type StoredCredentials = Omit<Credentials, "mqtt"> & {
  mqtt: Omit<Credentials["mqtt"], "downlinkQos"> & { downlinkQos?: 0 | 1 };
};

/** Reads the stored credentials; undefined if none or unreadable (the agent re-enrolls). */
export async function loadCredentials(dataDir: string): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dataDir, CREDENTIALS_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text);
    const response = EnrollResponse.parse({ deviceId: parsed.deviceId, mqtt: parsed.mqtt });
    if (typeof parsed.cloudUrl !== "string") return undefined;
    return { cloudUrl: parsed.cloudUrl, enrolledAt: String(parsed.enrolledAt), ...response };
  } catch {
    return undefined;
  }
}

/** Writes credentials atomically (temp file + rename) with mode 0600. */
export async function saveCredentials(
  dataDir: string,
  credentials: StoredCredentials,
): Promise<void> {
  const path = join(dataDir, CREDENTIALS_FILE);
  const temp = `${path}.tmp`;
  await Deno.writeTextFile(temp, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  await Deno.chmod(temp, 0o600);
  await Deno.rename(temp, path);
}

/** Deletes stored credentials (after the broker refused them). */
export async function forgetCredentials(dataDir: string): Promise<void> {
  await Deno.remove(join(dataDir, CREDENTIALS_FILE)).catch(() => {});
}
