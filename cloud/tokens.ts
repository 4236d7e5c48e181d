/**
 * Secret tokens the operator did not set: generated once, kept in a 0600 file in the data dir,
 * and reused on every later start. Logs name the file, never the token.
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { Logger } from "@outpost/platform/log";
import { ConfigError } from "@outpost/platform/settings";

/** Options of {@link ensureToken}. */
export interface EnsureTokenOptions {
  /** The token from flags/env; when set it wins and no file is touched. */
  given: string | undefined;
  dataDir: string;
  /** File name inside the data dir, e.g. `admin-token`. */
  file: string;
  /** The setting that would override the file, named in messages (e.g. `OUTPOST_ADMIN_TOKEN`). */
  setting: string;
  logger: Logger;
}

const VALID_TOKEN = /^[\x21-\x7e]{16,512}$/;

/** A fresh random token: 32 bytes, base64url. */
export function generateToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/**
 * Returns the given token, or the one stored in `<dataDir>/<file>`, generating and storing it
 * (mode 0600) on first use.
 * @throws ConfigError when the file exists but holds no usable token.
 */
export async function ensureToken(options: EnsureTokenOptions): Promise<string> {
  if (options.given !== undefined) return options.given;
  const path = join(options.dataDir, options.file);
  try {
    const stored = (await Deno.readTextFile(path)).trim();
    if (!VALID_TOKEN.test(stored)) {
      throw new ConfigError(
        `Cannot start cloud: ${path} must hold a token of 16+ printable characters without spaces; set ${options.setting} or delete the file to generate a new one`,
      );
    }
    options.logger.info("using stored token", { setting: options.setting, file: path });
    return stored;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const token = generateToken();
  try {
    await Deno.writeTextFile(path, token + "\n", { mode: 0o600, createNew: true });
  } catch (error) {
    // Another process raced us to it: use theirs so both agree.
    if (error instanceof Deno.errors.AlreadyExists) return await ensureToken(options);
    throw error;
  }
  options.logger.info("generated token; read it from the file", {
    setting: options.setting,
    file: path,
  });
  return token;
}
