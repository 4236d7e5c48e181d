import assert from "node:assert/strict";
import { decodeJwt } from "./jwt.ts";
import {
  deviceJwt,
  devicePermissions,
  deviceUserKey,
  natsDeviceIdProblem,
  subjectOfTopic,
  topicOfSubject,
} from "./device_credentials.ts";
import { SigningKey } from "./nkey.ts";

Deno.test("a device's user key is the same for every JWT and differs by device and account", () => {
  const account = SigningKey.generate("account");
  assert.equal(deviceUserKey(account, "pi-1"), deviceUserKey(account, "pi-1"));
  assert.notEqual(deviceUserKey(account, "pi-1"), deviceUserKey(account, "pi-2"));
  assert.notEqual(
    deviceUserKey(account, "pi-1"),
    deviceUserKey(SigningKey.generate("account"), "pi-1"),
  );
  assert.match(deviceUserKey(account, "pi-1"), /^U[A-Z2-7]{55}$/);
});

Deno.test("a device JWT is an MQTT-only bearer credential for its own topics", () => {
  const account = SigningKey.generate("account");
  const claims = decodeJwt(deviceJwt(account, "pi-1", 1700000000));
  assert.equal(claims.sub, deviceUserKey(account, "pi-1"));
  assert.equal(claims.iat, 1700000000);
  assert.equal(claims.nats.bearer_token, true);
  assert.deepEqual(claims.nats.allowed_connection_types, ["MQTT"]);
  assert.deepEqual(claims.nats.pub, { allow: ["outpost.v1.pi-1.up.>"] });
  assert.deepEqual(claims.nats.sub, {
    allow: ["outpost.v1.pi-1.down", "outpost.v1.pi-1.down.>", "$MQTT.sub.>"],
  });
  assert.equal(claims.exp, undefined);
  assert.deepEqual(devicePermissions("x").pub.allow, ["outpost.v1.x.up.>"]);
});

Deno.test("ids with '.' are refused with the rule; topics and subjects map both ways", () => {
  assert.match(natsDeviceIdProblem("pi.1") ?? "", /contains '\.'.*NATS/);
  assert.equal(natsDeviceIdProblem("pi_1-a"), undefined);
  assert.equal(subjectOfTopic("outpost/v1/+/up/#"), "outpost.v1.*.up.>");
  assert.equal(topicOfSubject("outpost.v1.pi-1.up.batch"), "outpost/v1/pi-1/up/batch");
});
