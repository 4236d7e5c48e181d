/**
 * A throwaway NATS operator, system account and application account, made with WebCrypto
 * Ed25519 (no `nsc`, no npm package): what `deno task nats:init` generates per installation,
 * reduced to what the server needs to start in operator mode. Only the manifest tests use it, to
 * prove that the rendered server config is accepted by a real nats-server with an `auth.conf`
 * of the shape the Secret `outpost-nats-auth` holds (docs/DEPLOYMENT.md, "NATS cluster").
 *
 * - nkeys: a public key is one prefix byte + the 32-byte Ed25519 public key + CRC-16/XMODEM
 *   (little-endian), base32 without padding; a seed is two prefix bytes + the 32-byte private
 *   seed + CRC, likewise.
 * - JWTs: `{"typ":"JWT","alg":"ed25519-nkey"}`, claims with `iss`/`sub` as public nkeys and a
 *   `nats` section of version 2, signed by the issuer's key (base64url, no padding).
 * @module
 */

/** nkey type prefixes (the first base32 letter of a key: O, A, U). */
const PREFIX = { operator: 14 << 3, account: 0, user: 20 << 3 } as const;
const SEED_PREFIX = 18 << 3;

type KeyKind = keyof typeof PREFIX;

/** An Ed25519 key pair with its nkey encodings. */
export interface NKeyPair {
  kind: KeyKind;
  /** The public nkey (`O…`, `A…`, `U…`). */
  publicKey: string;
  /** The seed (`SO…`, `SA…`, `SU…`): secret. */
  seed: string;
  privateKey: CryptoKey;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** CRC-16/XMODEM, as nkeys checks it. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

function withChecksum(bytes: number[]): Uint8Array {
  const crc = crc16(new Uint8Array(bytes));
  return new Uint8Array([...bytes, crc & 0xff, crc >> 8]);
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Makes a fresh key pair of a kind. */
export async function createKeyPair(kind: KeyKind): Promise<NKeyPair> {
  const keys = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  // PKCS#8 of an Ed25519 key ends with the 32-byte private seed.
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const secret = pkcs8.slice(pkcs8.length - 32);
  const prefix = PREFIX[kind];
  return {
    kind,
    publicKey: base32(withChecksum([prefix, ...raw])),
    seed: base32(withChecksum([SEED_PREFIX | (prefix >> 5), (prefix & 31) << 3, ...secret])),
    privateKey: keys.privateKey,
  };
}

/** Encodes and signs NATS JWT claims with the issuer's key. */
export async function signJwt(
  issuer: NKeyPair,
  subject: string,
  name: string,
  nats: Record<string, unknown>,
): Promise<string> {
  const encoder = new TextEncoder();
  const header = base64url(encoder.encode(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })));
  const claims = {
    jti: base32(crypto.getRandomValues(new Uint8Array(32))),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.publicKey,
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", issuer.privateKey, encoder.encode(`${header}.${payload}`)),
  );
  return `${header}.${payload}.${base64url(signature)}`;
}

/** A throwaway installation: keys, JWTs and the `auth.conf` include of the server config. */
export interface NatsInstallation {
  operator: NKeyPair;
  systemAccount: NKeyPair;
  account: NKeyPair;
  operatorJwt: string;
  systemAccountJwt: string;
  accountJwt: string;
  /**
   * `operator`, `system_account`, the `full` resolver and `resolver_preload`, as the Secret's
   * `auth.conf` holds them (what `deno task nats:init --resolver-dir <dir>` writes).
   */
  authConf: string;
}

/** Where the deployment keeps the account resolver: `nats:init --resolver-dir` (its default). */
export const RESOLVER_DIR = "/data/jwt";

const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/**
 * Makes an operator, its system account (no JetStream) and the application account (JetStream
 * unlimited on disk and memory: MQTT sessions and retained messages live there), with the
 * resolver keeping account JWTs in `resolverDir`.
 */
export async function createInstallation(resolverDir = RESOLVER_DIR): Promise<NatsInstallation> {
  const operator = await createKeyPair("operator");
  const systemAccount = await createKeyPair("account");
  const account = await createKeyPair("account");
  const operatorJwt = await signJwt(operator, operator.publicKey, "outpost", {
    type: "operator",
    system_account: systemAccount.publicKey,
  });
  const systemAccountJwt = await signJwt(operator, systemAccount.publicKey, "SYS", {
    type: "account",
    limits: UNLIMITED,
  });
  const accountJwt = await signJwt(operator, account.publicKey, "outpost", {
    type: "account",
    limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  const authConf = [
    "# Generated per installation (test stand-in for deno task nats:init).",
    `operator: ${operatorJwt}`,
    `system_account: ${systemAccount.publicKey}`,
    "resolver: {",
    "  type: full",
    `  dir: ${JSON.stringify(resolverDir)}`,
    "  allow_delete: false",
    '  interval: "2m"',
    "}",
    "resolver_preload: {",
    `  ${systemAccount.publicKey}: ${systemAccountJwt}`,
    `  ${account.publicKey}: ${accountJwt}`,
    "}",
    "",
  ].join("\n");
  return {
    operator,
    systemAccount,
    account,
    operatorJwt,
    systemAccountJwt,
    accountJwt,
    authConf,
  };
}
