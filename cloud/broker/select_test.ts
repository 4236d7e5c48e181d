import assert from "node:assert/strict";
import { ConfigError } from "@outpost/platform/settings";
import { loadCloudConfig } from "../config.ts";
import { readNatsSettings } from "./nats/settings.ts";
import { SigningKey } from "./nats/nkey.ts";
import { chooseBroker } from "./select.ts";

const choose = (env: Record<string, string>) => chooseBroker(loadCloudConfig([], env));

Deno.test("without OUTPOST_BROKER the backend is inferred as before", () => {
  assert.equal(choose({}), "embedded");
  assert.equal(choose({ OUTPOST_MQTT_URL: "mqtt://m:1883" }), "external");
  assert.equal(
    choose({
      OUTPOST_MQTT_URL: "mqtt://m:1883",
      OUTPOST_MQTT_USERNAME: "admin",
      OUTPOST_MQTT_PASSWORD: "secret",
    }),
    "mosquitto",
  );
});

Deno.test("contradictory broker settings fail naming the variable", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { OUTPOST_NATS_URL: "nats://n:4222" },
      /OUTPOST_NATS_URL is set but OUTPOST_BROKER is 'unset'/,
    ],
    [
      { OUTPOST_BROKER: "mosquitto", OUTPOST_NATS_URL: "nats://n:4222" },
      /OUTPOST_NATS_URL is set but OUTPOST_BROKER is 'mosquitto'/,
    ],
    [
      { OUTPOST_BROKER: "embedded", OUTPOST_MQTT_URL: "mqtt://m:1883" },
      /OUTPOST_BROKER=embedded runs its own broker, but OUTPOST_MQTT_URL/,
    ],
    [{ OUTPOST_BROKER: "mosquitto" }, /OUTPOST_BROKER=mosquitto needs OUTPOST_MQTT_URL/],
    [
      { OUTPOST_BROKER: "mosquitto", OUTPOST_MQTT_URL: "mqtt://m:1883" },
      /needs OUTPOST_MQTT_USERNAME/,
    ],
    [
      { OUTPOST_MQTT_URL: "mqtt://a:1883,mqtt://b:1883" },
      /OUTPOST_MQTT_URL must be one URL unless OUTPOST_BROKER=nats/,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => choose(env), (error: Error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  assert.equal(choose({ OUTPOST_BROKER: "nats", OUTPOST_NATS_URL: "nats://n:4222" }), "nats");
});

Deno.test("the NATS backend names each missing or wrong setting", () => {
  const operator = SigningKey.generate("operator").seed;
  const account = SigningKey.generate("account").seed;
  const system = SigningKey.generate("account").seed;
  const full = {
    natsUrl: ["nats://n:4222"],
    mqttUrl: "mqtt://n:1883,mqtt://m:1883",
    natsOperatorSeed: operator,
    natsAccountSeed: account,
    natsSystemAccountSeed: system,
  };
  const settings = readNatsSettings(full);
  assert.deepEqual(settings.mqttUrls, ["mqtt://n:1883", "mqtt://m:1883"]);
  assert.equal(settings.keys.operator.seed, operator);
  const cases: [Partial<typeof full>, RegExp][] = [
    [{ natsUrl: undefined }, /needs OUTPOST_NATS_URL/],
    [{ mqttUrl: undefined }, /needs OUTPOST_MQTT_URL/],
    [
      { natsOperatorSeed: undefined },
      /needs OUTPOST_NATS_OPERATOR_SEED \(or OUTPOST_NATS_OPERATOR_SEED_FILE\)/,
    ],
    [
      { natsAccountSeed: operator },
      /OUTPOST_NATS_ACCOUNT_SEED is an operator seed, not an account seed/,
    ],
    [{ natsSystemAccountSeed: account }, /are the same key/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => readNatsSettings({ ...full, ...change }), message);
  }
});
