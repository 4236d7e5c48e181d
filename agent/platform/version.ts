/** The agent's version; `deno task compile` stamps release builds from git. */
export const VERSION = "0.1.0-dev";
