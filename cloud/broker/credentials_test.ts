import assert from "node:assert/strict";
import { deviceTableProvisioner, hashPassword, verifyPassword } from "./credentials.ts";

Deno.test("a hashed password verifies and a wrong or malformed one does not", () => {
  const stored = hashPassword("s3cret");
  assert.match(stored, /^sha256\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
  assert.equal(verifyPassword("s3cret", stored), true);
  assert.equal(verifyPassword("s3cret!", stored), false);
  assert.equal(verifyPassword("", stored), false);
  assert.equal(verifyPassword("s3cret", "plain"), false);
  assert.equal(verifyPassword("s3cret", "sha256$zz$00"), false);
});

Deno.test("the same password hashes differently per device thanks to the salt", () => {
  assert.notEqual(hashPassword("same"), hashPassword("same"));
});

Deno.test("the device-table provisioner hands out a fresh random password per call", async () => {
  const provisioner = deviceTableProvisioner();
  const one = await provisioner.provision("pi-1");
  const two = await provisioner.provision("pi-1");
  assert.equal(one.username, "pi-1");
  assert.notEqual(one.password, two.password);
  assert.ok(verifyPassword(one.password, one.passwordHash!));
});
