/**
 * NATS nkeys without a signing library: the base32 + CRC16 encoding of seeds and public keys,
 * and Ed25519 signatures through `node:crypto` (the npm nkeys/jwt packages sign in JavaScript:
 * ~51 ms per user JWT here, against ~0.1 ms with this module).
 *
 * An nkey public key is `base32(prefix byte, 32 key bytes, crc16)`; a seed is
 * `base32(seed prefix | kind, 32 seed bytes, crc16)` and starts with `S` + the kind's letter.
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, type KeyObject, sign } from "node:crypto";

/** What an nkey is for; the value is its prefix byte. */
export const NKEY_KIND = { operator: 14 << 3, account: 0, user: 20 << 3 } as const;
/** One of {@link NKEY_KIND}'s names. */
export type NkeyKind = keyof typeof NKEY_KIND;

const SEED_PREFIX = 18 << 3;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// PKCS#8 DER of an Ed25519 private key, without its 32 seed bytes.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

/** CRC-16/XMODEM, as nkeys checksum their encoding. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** RFC 4648 base32 without padding. */
export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Inverse of {@link base32Encode}; throws on a character outside the alphabet. */
export function base32Decode(text: string): Uint8Array {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) throw new Error(`not base32: '${char}'`);
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
      buffer &= (1 << bits) - 1;
    }
  }
  return Uint8Array.from(out);
}

function withChecksum(payload: Uint8Array): string {
  const crc = crc16(payload);
  const full = new Uint8Array(payload.length + 2);
  full.set(payload);
  full[payload.length] = crc & 0xff;
  full[payload.length + 1] = crc >> 8;
  return base32Encode(full);
}

/** The public nkey of `kind` for 32 raw key bytes. */
export function encodePublicKey(kind: NkeyKind, raw: Uint8Array): string {
  if (raw.length !== 32) throw new Error("an nkey public key has 32 bytes");
  const payload = new Uint8Array(33);
  payload[0] = NKEY_KIND[kind];
  payload.set(raw, 1);
  return withChecksum(payload);
}

/** The seed of `kind` for 32 raw seed bytes. */
export function encodeSeed(kind: NkeyKind, raw: Uint8Array): string {
  if (raw.length !== 32) throw new Error("an nkey seed has 32 bytes");
  const prefix = NKEY_KIND[kind];
  const payload = new Uint8Array(34);
  payload[0] = SEED_PREFIX | (prefix >> 5);
  payload[1] = (prefix & 31) << 3;
  payload.set(raw, 2);
  return withChecksum(payload);
}

/** Why a seed could not be read. */
export class InvalidSeed extends Error {}

/** Decodes a seed of `kind`; throws {@link InvalidSeed} naming what is wrong. */
export function decodeSeed(kind: NkeyKind, seed: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base32Decode(seed.trim());
  } catch {
    throw new InvalidSeed("is not an nkey seed (base32)");
  }
  if (bytes.length !== 36) throw new InvalidSeed("is not an nkey seed (wrong length)");
  const payload = bytes.subarray(0, 34);
  const crc = bytes[34] | (bytes[35] << 8);
  if (crc16(payload) !== crc) throw new InvalidSeed("is not an nkey seed (bad checksum)");
  if ((payload[0] & 0xf8) !== SEED_PREFIX) throw new InvalidSeed("is not an nkey seed");
  const prefix = ((payload[0] & 7) << 5) | (payload[1] >> 3);
  if (prefix !== NKEY_KIND[kind]) {
    const found = Object.entries(NKEY_KIND).find(([, value]) => value === prefix)?.[0];
    throw new InvalidSeed(
      `is ${found ? `an ${found}` : "another kind of"} seed, not an ${kind} seed`,
    );
  }
  return payload.slice(2);
}

/** A key pair that signs: what the cloud holds for the operator and the accounts. */
export class SigningKey {
  readonly kind: NkeyKind;
  /** The public nkey (`O…`, `A…`, `U…`). */
  readonly publicKey: string;
  /** The encoded seed (`SO…`, `SA…`, `SU…`). */
  readonly seed: string;
  readonly #privateKey: KeyObject;

  constructor(kind: NkeyKind, rawSeed: Uint8Array) {
    this.kind = kind;
    this.seed = encodeSeed(kind, rawSeed);
    this.#privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, rawSeed]),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(this.#privateKey).export({ format: "der", type: "spki" });
    // The raw key is the last 32 bytes of the SPKI DER.
    this.publicKey = encodePublicKey(kind, new Uint8Array(spki.subarray(spki.length - 32)));
  }

  /** Reads an encoded seed. @throws InvalidSeed */
  static fromSeed(kind: NkeyKind, seed: string): SigningKey {
    return new SigningKey(kind, decodeSeed(kind, seed));
  }

  /** A fresh random key. */
  static generate(kind: NkeyKind): SigningKey {
    return new SigningKey(kind, crypto.getRandomValues(new Uint8Array(32)));
  }

  /** The Ed25519 signature of `data`. */
  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, data, this.#privateKey));
  }
}
