/**
 * Stamps the version into `agent/platform/version.ts` (the one module both programs read it from).
 * Used by `deno task compile` on its staging copy and by the Dockerfiles' `deno` runtime form
 * on the build stage's tree, so both image forms report the `VERSION` build argument.
 *
 * Usage: deno run --allow-write=agent/platform/version.ts agent/build/stamp_version.ts <version>
 * @module
 */
import { join } from "node:path";

/** Path of the version module, relative to the repository root. */
export const VERSION_FILE = "agent/platform/version.ts";

/** What a version may look like: semver-ish or `git describe` output, at most 64 characters. */
export const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

/** The text of the version module for `version`. */
export function versionModule(version: string): string {
  if (!VERSION_PATTERN.test(version)) {
    throw new Error(`not a version: ${JSON.stringify(version)} (expected ${VERSION_PATTERN})`);
  }
  return `/** The version of Outpost, stamped at build time. */\nexport const VERSION = ${
    JSON.stringify(version)
  };\n`;
}

/** Writes the version module under `root`. */
export async function stampVersion(root: string, version: string): Promise<void> {
  await Deno.writeTextFile(join(root, VERSION_FILE), versionModule(version));
}

if (import.meta.main) {
  const [version] = Deno.args;
  try {
    await stampVersion(".", version ?? "");
    console.error(`[stamp_version] ${VERSION_FILE}: ${version}`);
  } catch (error) {
    console.error(`[stamp_version] ${(error as Error).message}`);
    Deno.exit(2);
  }
}
