import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { fromPublic } from "@nats-io/nkeys";
import { accountJwt, decodeJwt, operatorJwt, userJwt } from "./jwt.ts";
import { SigningKey } from "./nkey.ts";

function verifies(jwt: string, issuer: string): boolean {
  const [header, body, signature] = jwt.split(".");
  return fromPublic(issuer).verify(
    new TextEncoder().encode(`${header}.${body}`),
    new Uint8Array(Buffer.from(signature, "base64url")),
  );
}

Deno.test("a user JWT carries its permissions and verifies against its account's key", () => {
  const account = SigningKey.generate("account");
  const user = SigningKey.generate("user");
  const jwt = userJwt(account, { subject: user.publicKey, name: "pi-1", issuedAt: 1234 }, {
    pub: { allow: ["a.>"] },
    bearer_token: true,
  });
  const claims = decodeJwt(jwt);
  assert.equal(claims.iss, account.publicKey);
  assert.equal(claims.sub, user.publicKey);
  assert.equal(claims.iat, 1234);
  assert.deepEqual(claims.nats.pub, { allow: ["a.>"] });
  assert.equal(claims.nats.bearer_token, true);
  assert.equal(claims.nats.type, "user");
  assert.equal(claims.nats.version, 2);
  assert.match(String(claims.jti), /^[A-Z2-7]{52}$/);
  assert.ok(verifies(jwt, account.publicKey));
  assert.ok(!verifies(jwt, SigningKey.generate("account").publicKey));
});

Deno.test("account JWTs carry JetStream limits and revocations only when there are some", () => {
  const operator = SigningKey.generate("operator");
  const account = SigningKey.generate("account");
  const plain = decodeJwt(accountJwt(operator, { subject: account.publicKey, name: "outpost" }));
  assert.equal(plain.nats.revocations, undefined);
  assert.equal((plain.nats.limits as Record<string, unknown>).disk_storage, -1);
  const revoked = accountJwt(operator, { subject: account.publicKey, name: "outpost" }, {
    revocations: { UABC: 99 },
  });
  assert.deepEqual(decodeJwt(revoked).nats.revocations, { UABC: 99 });
  assert.ok(verifies(revoked, operator.publicKey));
  const self = operatorJwt(operator, account.publicKey);
  assert.equal(decodeJwt(self).nats.system_account, account.publicKey);
  assert.ok(verifies(self, operator.publicKey));
});

Deno.test("minting a user JWT takes well under a millisecond", () => {
  const account = SigningKey.generate("account");
  const user = SigningKey.generate("user");
  const started = performance.now();
  for (let i = 0; i < 500; i++) {
    userJwt(account, { subject: user.publicKey, name: `d${i}` }, { bearer_token: true });
  }
  const each = (performance.now() - started) / 500;
  assert.ok(each < 1, `${each.toFixed(3)} ms per JWT`);
});
