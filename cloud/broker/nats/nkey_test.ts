import assert from "node:assert/strict";
import { createAccount, createOperator, createUser, fromPublic, fromSeed } from "@nats-io/nkeys";
import { base32Decode, base32Encode, crc16, decodeSeed, InvalidSeed, SigningKey } from "./nkey.ts";

const encoder = new TextEncoder();

Deno.test("crc16 is CRC-16/XMODEM", () => {
  assert.equal(crc16(encoder.encode("123456789")), 0x31c3);
});

Deno.test("base32 round-trips every length", () => {
  for (let length = 0; length < 40; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    assert.deepEqual(base32Decode(base32Encode(bytes)), bytes);
  }
});

Deno.test("seeds from the nkeys package give the same public keys and verifiable signatures", () => {
  for (
    const [kind, create] of [["operator", createOperator], ["account", createAccount], [
      "user",
      createUser,
    ]] as const
  ) {
    const theirs = create();
    const seed = new TextDecoder().decode(theirs.getSeed());
    const ours = SigningKey.fromSeed(kind, seed);
    assert.equal(ours.publicKey, theirs.getPublicKey());
    assert.equal(ours.seed, seed);
    const data = encoder.encode("nonce-123");
    assert.ok(fromPublic(ours.publicKey).verify(data, ours.sign(data)));
  }
});

Deno.test("generated seeds are read by the nkeys package", () => {
  const ours = SigningKey.generate("account");
  assert.ok(ours.seed.startsWith("SA"));
  assert.ok(ours.publicKey.startsWith("A"));
  assert.equal(fromSeed(encoder.encode(ours.seed)).getPublicKey(), ours.publicKey);
});

Deno.test("a seed of the wrong kind or a damaged seed is refused with the reason", () => {
  const operator = SigningKey.generate("operator");
  assert.throws(() => decodeSeed("account", operator.seed), (error: Error) => {
    assert.ok(error instanceof InvalidSeed);
    assert.match(error.message, /operator seed, not an account seed/);
    return true;
  });
  const damaged = operator.seed.slice(0, -3) + (operator.seed.endsWith("A") ? "BBB" : "AAA");
  assert.throws(() => decodeSeed("operator", damaged), /checksum|length/);
  assert.throws(() => decodeSeed("operator", "not a seed!"), /base32/);
});
