import assert from "node:assert/strict";
import { describeConnectionError, isLoopbackHost, plaintextPasswordRefusal } from "./transport.ts";

Deno.test("loopback hosts are localhost, 127.0.0.0/8 and ::1, nothing else", () => {
  for (
    const host of ["localhost", "LOCALHOST", "pi.localhost", "127.0.0.1", "127.1.2.3", "[::1]"]
  ) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (
    const host of ["10.0.0.5", "192.168.1.2", "mqtt.example.com", "0.0.0.0", "::", "128.0.0.1"]
  ) {
    assert.equal(isLoopbackHost(host), false, host);
  }
  assert.equal(isLoopbackHost("localhost.example.com"), false);
});

Deno.test("the password may go over TLS anywhere and over plaintext only to loopback", () => {
  for (
    const url of [
      "mqtts://mqtt.example.com:8883",
      "wss://mqtt.example.com/mqtt",
      "mqtt://127.0.0.1:1883",
      "mqtt://localhost:1883",
      "ws://[::1]:9001",
    ]
  ) {
    assert.equal(plaintextPasswordRefusal(url), undefined, url);
  }
  const refusal = plaintextPasswordRefusal("mqtt://10.0.0.5:1883");
  assert.match(
    refusal ?? "",
    /^Refusing to send the MQTT password in plaintext to mqtt:\/\/10\.0\.0\.5:1883/,
  );
  assert.match(refusal ?? "", /use mqtts:\/\//);
  assert.match(plaintextPasswordRefusal("ws://broker.lan/mqtt") ?? "", /use wss:\/\//);
  assert.match(plaintextPasswordRefusal("not a url") ?? "", /not a valid URL/);
});

Deno.test("a rejected broker certificate is explained with the CA file to check", () => {
  const error = Object.assign(new Error("unable to verify the first certificate"), {
    code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  });
  const message = describeConnectionError(error, {
    url: "mqtts://127.0.0.1:8883",
    caPath: "/etc/outpost/ca.pem",
  });
  assert.match(message, /^TLS certificate of the broker at mqtts:\/\/127\.0\.0\.1:8883 rejected/);
  assert.match(message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  assert.match(message, /OUTPOST_MQTT_CA \('\/etc\/outpost\/ca\.pem'\)/);
  const noCa = describeConnectionError(
    Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
      code: "ERR_TLS_CERT_ALTNAME_INVALID",
    }),
    { url: "mqtts://10.0.0.5:8883" },
  );
  assert.match(noCa, /set OUTPOST_MQTT_CA/);
  assert.equal(
    describeConnectionError(new Error("connect ECONNREFUSED 127.0.0.1:1883"), {
      url: "mqtt://127.0.0.1:1883",
    }),
    "MQTT error: connect ECONNREFUSED 127.0.0.1:1883",
  );
});

Deno.test("OUTPOST_MQTT_ALLOW_PLAINTEXT lifts the plaintext refusal for a non-loopback broker", () => {
  const url = "mqtt://outpost-mosquitto.outpost-cloud.svc:1883";
  assert.match(plaintextPasswordRefusal(url) ?? "", /Refusing to send the MQTT password/);
  assert.equal(plaintextPasswordRefusal(url, { allowed: true }), undefined);
});
