/**
 * NATS JWTs (version 2 claims) for the operator, the accounts and the users, encoded and signed
 * locally: minting a device's credentials is CPU work only (~0.1 ms), nothing is written to the
 * broker. The server checks the signature chain operator → account → user.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { base32Encode, type SigningKey } from "./nkey.ts";

const HEADER = Buffer.from(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })).toString(
  "base64url",
);
const encoder = new TextEncoder();

/** Publish or subscribe subjects a user may use. */
export interface SubjectPermission {
  allow?: string[];
  deny?: string[];
}

/** The `nats` part of a user JWT. */
export interface UserClaims {
  pub?: SubjectPermission;
  sub?: SubjectPermission;
  /** The JWT is the whole credential: the client signs no nonce (how MQTT clients log in). */
  bearer_token?: boolean;
  /** E.g. `["MQTT"]`: the user may connect only that way. */
  allowed_connection_types?: string[];
}

/** Account limits with nothing capped and no JetStream (the system account's). */
export const UNLIMITED_NO_JETSTREAM = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/** The account limits every Outpost account JWT carries (JetStream on, nothing capped). */
export const UNLIMITED_ACCOUNT = {
  ...UNLIMITED_NO_JETSTREAM,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

/** The `nats` part of an account JWT. */
export interface AccountClaims {
  /** Default {@link UNLIMITED_ACCOUNT}; the system account gets none. */
  limits?: Record<string, number | boolean>;
  /** User public key → unix seconds: user JWTs issued at or before it are refused. */
  revocations?: Record<string, number>;
}

/** What every JWT has besides its `nats` claims. */
export interface JwtSubject {
  /** Public nkey the JWT is about. */
  subject: string;
  name: string;
  /** Unix seconds; default now. */
  issuedAt?: number;
  /** Unix seconds; none by default. */
  expires?: number;
}

/** Signs `nats` claims of `type` about `subject` with `issuer`. */
export function signJwt(
  issuer: SigningKey,
  type: "operator" | "account" | "user",
  subject: JwtSubject,
  nats: object,
): string {
  const claims: Record<string, unknown> = {
    jti: "",
    iat: subject.issuedAt ?? Math.floor(Date.now() / 1000),
    iss: issuer.publicKey,
    name: subject.name,
    sub: subject.subject,
    ...(subject.expires !== undefined ? { exp: subject.expires } : {}),
    nats: { ...nats, type, version: 2 },
  };
  // Like the Go library: the id is a hash of the claims without it.
  claims.jti = base32Encode(createHash("sha256").update(JSON.stringify(claims)).digest());
  const body = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const signature = Buffer.from(issuer.sign(encoder.encode(body))).toString("base64url");
  return `${body}.${signature}`;
}

/** The operator's self-signed JWT (the server's `operator:` setting). */
export function operatorJwt(operator: SigningKey, systemAccount: string, issuedAt?: number) {
  return signJwt(operator, "operator", {
    subject: operator.publicKey,
    name: "outpost",
    issuedAt,
  }, { system_account: systemAccount });
}

/** An account JWT signed by the operator. */
export function accountJwt(
  operator: SigningKey,
  account: JwtSubject,
  claims: AccountClaims = {},
): string {
  const nats: Record<string, unknown> = {
    limits: claims.limits ?? UNLIMITED_ACCOUNT,
    default_permissions: { pub: {}, sub: {} },
  };
  if (claims.revocations && Object.keys(claims.revocations).length) {
    nats.revocations = claims.revocations;
  }
  return signJwt(operator, "account", account, nats);
}

/** A user JWT signed by its account. */
export function userJwt(account: SigningKey, user: JwtSubject, claims: UserClaims): string {
  return signJwt(account, "user", user, { subs: -1, data: -1, payload: -1, ...claims });
}

/** The claims of a JWT, unverified (for tests and logs). */
export function decodeJwt(
  jwt: string,
): Record<string, unknown> & { nats: Record<string, unknown> } {
  const part = jwt.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}
