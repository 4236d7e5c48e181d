/**
 * What `deno task nats:init` writes for a new deployment: fresh operator, system account and
 * Outpost account keys; the nats-server auth include (`auth.conf`); the seeds as an env file
 * and as one file each (for `*_FILE` settings and Kubernetes Secrets), all mode 0600. It never
 * overwrites: existing keys belong to a running deployment.
 * @module
 */
import { join } from "node:path";
import { SigningKey } from "./nkey.ts";
import { type NatsKeys, renderAuthConfig } from "./server_config.ts";

/** Names of the files {@link writeNatsInit} writes, in `--out`. */
export const INIT_FILES = {
  env: "outpost-nats.env",
  authConfig: "auth.conf",
  operatorSeed: "operator.seed",
  accountSeed: "account.seed",
  systemAccountSeed: "system-account.seed",
} as const;

/** Fresh keys of a deployment. */
export function generateNatsKeys(): NatsKeys {
  return {
    operator: SigningKey.generate("operator"),
    systemAccount: SigningKey.generate("account"),
    account: SigningKey.generate("account"),
  };
}

/** The env file with the three seeds. */
export function renderSeedEnv(keys: NatsKeys): string {
  return [
    "# Outpost cloud: NATS keys (deno task nats:init). Secret: whoever holds these controls the broker.",
    `OUTPOST_NATS_OPERATOR_SEED=${keys.operator.seed}`,
    `OUTPOST_NATS_ACCOUNT_SEED=${keys.account.seed}`,
    `OUTPOST_NATS_SYSTEM_ACCOUNT_SEED=${keys.systemAccount.seed}`,
    "",
  ].join("\n");
}

/** Thrown when `--out` already holds keys. */
export class ExistingKeys extends Error {}

/**
 * Writes a new deployment's files into `dir` (created if missing).
 * @throws ExistingKeys naming the first file that exists.
 */
export async function writeNatsInit(
  dir: string,
  options: { resolverDir: string; keys?: NatsKeys },
): Promise<{ keys: NatsKeys; files: string[] }> {
  await Deno.mkdir(dir, { recursive: true });
  for (const name of Object.values(INIT_FILES)) {
    const path = join(dir, name);
    const exists = await Deno.lstat(path).then(() => true, () => false);
    if (exists) {
      throw new ExistingKeys(
        `${path} exists: nats:init never overwrites a deployment's keys (move the directory away to start over)`,
      );
    }
  }
  const keys = options.keys ?? generateNatsKeys();
  const contents: Record<string, string> = {
    [INIT_FILES.env]: renderSeedEnv(keys),
    [INIT_FILES.authConfig]: renderAuthConfig(keys, { resolverDir: options.resolverDir }),
    [INIT_FILES.operatorSeed]: `${keys.operator.seed}\n`,
    [INIT_FILES.accountSeed]: `${keys.account.seed}\n`,
    [INIT_FILES.systemAccountSeed]: `${keys.systemAccount.seed}\n`,
  };
  const files: string[] = [];
  for (const [name, text] of Object.entries(contents)) {
    const path = join(dir, name);
    // createNew: a file that appeared meanwhile is not overwritten either.
    await Deno.writeTextFile(path, text, { createNew: true, mode: 0o600 });
    await Deno.chmod(path, 0o600);
    files.push(path);
  }
  return { keys, files };
}
