/**
 * The nats-server configuration that trusts Outpost's operator: `operator`, `system_account`,
 * a `full` resolver (account JWTs stored by every node, updates pushed through the system
 * account) and `resolver_preload` with the system and Outpost account JWTs, so a fresh cluster
 * knows both before the cloud first pushes. `deno task nats:init` writes this as an include
 * file; the test clusters render it into each node's config.
 * @module
 */
import { accountJwt, operatorJwt, UNLIMITED_NO_JETSTREAM } from "./jwt.ts";
import type { SigningKey } from "./nkey.ts";

/** The three keys of a deployment; the cloud holds all three (docs/CLOUD.md says why). */
export interface NatsKeys {
  operator: SigningKey;
  systemAccount: SigningKey;
  account: SigningKey;
}

/** Name of the account devices and the cloud use. */
export const OUTPOST_ACCOUNT_NAME = "outpost";

/** The system account's JWT (no JetStream). */
export function systemAccountJwt(keys: NatsKeys, issuedAt?: number): string {
  return accountJwt(keys.operator, {
    subject: keys.systemAccount.publicKey,
    name: "SYS",
    issuedAt,
  }, { limits: UNLIMITED_NO_JETSTREAM });
}

/** The Outpost account's JWT with `revocations`. */
export function outpostAccountJwt(
  keys: Pick<NatsKeys, "operator" | "account">,
  revocations: Record<string, number> = {},
  issuedAt?: number,
): string {
  return accountJwt(keys.operator, {
    subject: keys.account.publicKey,
    name: OUTPOST_ACCOUNT_NAME,
    issuedAt,
  }, { revocations });
}

/** Options of {@link renderAuthConfig}. */
export interface AuthConfigOptions {
  /** Where this node's resolver stores account JWTs. */
  resolverDir: string;
  /** Unix seconds stamped on the JWTs; default now. */
  issuedAt?: number;
}

/** The auth part of a nats-server config (an include file of its own). */
export function renderAuthConfig(keys: NatsKeys, options: AuthConfigOptions): string {
  const iat = options.issuedAt;
  return [
    "# Outpost: operator mode (decentralized JWT auth). Generated; do not edit by hand.",
    `operator: ${operatorJwt(keys.operator, keys.systemAccount.publicKey, iat)}`,
    `system_account: ${keys.systemAccount.publicKey}`,
    "resolver: {",
    "  type: full",
    `  dir: ${JSON.stringify(options.resolverDir)}`,
    // Devices are never deleted from the broker: nothing per device lives there.
    "  allow_delete: false",
    '  interval: "2m"',
    "}",
    "resolver_preload: {",
    `  ${keys.systemAccount.publicKey}: ${systemAccountJwt(keys, iat)}`,
    `  ${keys.account.publicKey}: ${outpostAccountJwt(keys, {}, iat)}`,
    "}",
    "",
  ].join("\n");
}
