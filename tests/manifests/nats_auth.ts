/**
 * A throwaway NATS installation made by the product's own `deno task nats:init` code (fresh
 * operator, system account and Outpost account keys; the `auth.conf` include): the manifest
 * tests prove that the rendered server config is accepted by a real nats-server with the
 * `auth.conf` the Secret `outpost-nats-auth` holds (docs/DEPLOYMENT.md, "NATS cluster").
 * @module
 */
import { generateNatsKeys } from "@outpost/cloud/broker/nats/init_files";
import { type NatsKeys, renderAuthConfig } from "@outpost/cloud/broker/nats/server_config";

/** The keys of an installation and its `auth.conf`. */
export interface NatsInstallation extends NatsKeys {
  /**
   * `operator`, `system_account`, the `full` resolver and `resolver_preload`, as the Secret's
   * `auth.conf` holds them (what `deno task nats:init --resolver-dir <dir>` writes).
   */
  authConf: string;
}

/** Where the deployment keeps the account resolver: `nats:init --resolver-dir` (its default). */
export const RESOLVER_DIR = "/data/jwt";

/** Makes an installation whose resolver keeps account JWTs in `resolverDir`. */
export function createInstallation(resolverDir = RESOLVER_DIR): NatsInstallation {
  const keys = generateNatsKeys();
  return { ...keys, authConf: renderAuthConfig(keys, { resolverDir }) };
}
