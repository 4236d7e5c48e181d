import assert from "node:assert/strict";
import { loadCloudConfig } from "./config.ts";

Deno.test("cloud config defaults work for deno task dev", () => {
  const config = loadCloudConfig([], {});
  assert.equal(config.port, 8080);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.dataDir, ".data/cloud");
  assert.deepEqual(config.database, { kind: "sqlite", path: ".data/cloud/cloud.db" });
  assert.equal(config.mqttUrl, undefined);
  assert.equal(config.mqttPort, 1883);
  assert.equal(config.mqttPublicUrl, undefined);
  assert.equal(config.adminToken, undefined);
  assert.equal(config.enrollToken, undefined);
  assert.equal(config.logLevel, "info");
  assert.equal(config.dbPoolSize, 10);
});

Deno.test("cloud flags override environment variables and the data dir moves the database", () => {
  const config = loadCloudConfig(["--port", "9090", "--data-dir=/var/lib/outpost"], {
    OUTPOST_PORT: "9000",
    OUTPOST_MQTT_PORT: "0",
    OUTPOST_ADMIN_TOKEN: "admin-token-0123456789",
    OUTPOST_MQTT_PUBLIC_URL: "mqtts://mqtt.example.com:8883",
  });
  assert.equal(config.port, 9090);
  assert.equal(config.mqttPort, 0);
  assert.equal(config.adminToken, "admin-token-0123456789");
  assert.equal(config.mqttPublicUrl, "mqtts://mqtt.example.com:8883");
  assert.deepEqual(config.database, { kind: "sqlite", path: "/var/lib/outpost/cloud.db" });
});

Deno.test("DATABASE_URL accepts file: URLs, plain paths and postgres URLs", () => {
  const cases: [string, unknown][] = [
    ["file:///tmp/x/cloud.db", { kind: "sqlite", path: "/tmp/x/cloud.db" }],
    ["file:data/cloud.db", { kind: "sqlite", path: "data/cloud.db" }],
    ["/srv/cloud.db", { kind: "sqlite", path: "/srv/cloud.db" }],
    ["postgres://u:p@db:5432/outpost", { kind: "postgres", url: "postgres://u:p@db:5432/outpost" }],
    ["postgresql://db/outpost", { kind: "postgres", url: "postgresql://db/outpost" }],
  ];
  for (const [raw, expected] of cases) {
    assert.deepEqual(loadCloudConfig([], { DATABASE_URL: raw }).database, expected, raw);
  }
});

Deno.test("the PostgreSQL pool size comes from OUTPOST_DB_POOL_SIZE or --db-pool-size", () => {
  assert.equal(loadCloudConfig([], { OUTPOST_DB_POOL_SIZE: "25" }).dbPoolSize, 25);
  assert.equal(
    loadCloudConfig(["--db-pool-size", "4"], { OUTPOST_DB_POOL_SIZE: "25" }).dbPoolSize,
    4,
  );
});

Deno.test("bad cloud settings fail naming the setting and the value, secrets redacted", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { OUTPOST_PORT: "abc" },
      /Cannot start cloud: OUTPOST_PORT must be a port number \(0-65535\): current value is 'abc'$/,
    ],
    [{ OUTPOST_MQTT_PORT: "99999" }, /OUTPOST_MQTT_PORT must be a port number .*'99999'/],
    [
      { OUTPOST_MQTT_URL: "http://broker" },
      /OUTPOST_MQTT_URL must be a comma-separated list of URLs .*must be a URL with scheme mqtt:/,
    ],
    [
      { OUTPOST_MQTT_PUBLIC_URL: "broker:1883" },
      /OUTPOST_MQTT_PUBLIC_URL must be a comma-separated list of URLs .*'broker:1883', must be a URL/,
    ],
    [{ DATABASE_URL: "mysql://db/x" }, /DATABASE_URL must be a file: URL.*\[redacted\]$/],
    [{ OUTPOST_ADMIN_TOKEN: "short" }, /OUTPOST_ADMIN_TOKEN must be .*\[redacted\]$/],
    [{ OUTPOST_ENROLL_TOKEN: "has space in it 1234" }, /OUTPOST_ENROLL_TOKEN .*\[redacted\]$/],
    [{ OUTPOST_MQTT_PASSWORD: "a b" }, /OUTPOST_MQTT_PASSWORD .*\[redacted\]$/],
    [{ OUTPOST_LOG_LEVEL: "loud" }, /OUTPOST_LOG_LEVEL must be one of debug, info, warn, error/],
    [
      { DATABASE_URL: "postgres://u:s3cret@db:99999/x" },
      /Cannot start cloud: DATABASE_URL must be a valid postgres:\/\/ URL: current value is \[redacted\]$/,
    ],
    [
      { OUTPOST_DB_POOL_SIZE: "0" },
      /OUTPOST_DB_POOL_SIZE must be a whole number from 1 to 1000: current value is '0'$/,
    ],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadCloudConfig([], env), pattern, JSON.stringify(env));
  }
  assert.throws(() => loadCloudConfig(["--nope"], {}), /Cannot start cloud: .*known flags: --port/);
});

Deno.test("OUTPOST_MQTT_PUBLIC_URL takes several broker URLs, checked one by one and kept in order", () => {
  assert.equal(
    loadCloudConfig([], {
      OUTPOST_MQTT_PUBLIC_URL: "mqtts://n1.example:8883/, mqtts://n2.example:8883",
    }).mqttPublicUrl,
    "mqtts://n1.example:8883,mqtts://n2.example:8883",
  );
  const cases: [string, RegExp][] = [
    ["mqtts://n1:8883,", /item 2 of 2 is empty/],
    ["mqtts://n1:8883,https://n2", /item 2 of 2, 'https:\/\/n2', must be a URL with scheme/],
    ["mqtts://n1:8883,mqtts://n1:8883", /item 2 of 2, 'mqtts:\/\/n1:8883', is listed twice/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => loadCloudConfig([], { OUTPOST_MQTT_PUBLIC_URL: value }),
      (error: Error) => {
        assert.match(error.message, /^Cannot start cloud: OUTPOST_MQTT_PUBLIC_URL must be a comma/);
        assert.match(error.message, pattern);
        return true;
      },
      value,
    );
  }
});

Deno.test("NATS settings: URL lists, seeds from *_FILE, and both forms at once refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/op.seed`, "SOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    const config = loadCloudConfig([], {
      OUTPOST_BROKER: "nats",
      OUTPOST_NATS_URL: "nats://n1:4222, nats://n2:4222",
      OUTPOST_MQTT_URL: "mqtt://n1:1883,mqtt://n2:1883",
      OUTPOST_NATS_OPERATOR_SEED_FILE: `${dir}/op.seed`,
    });
    assert.equal(config.broker, "nats");
    assert.deepEqual(config.natsUrl, ["nats://n1:4222", "nats://n2:4222"]);
    assert.equal(config.mqttUrl, "mqtt://n1:1883,mqtt://n2:1883");
    assert.equal(config.natsOperatorSeed, "SOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert.throws(
      () =>
        loadCloudConfig([], {
          OUTPOST_NATS_OPERATOR_SEED: "SOAAAAAAAAAAAAAAAAAAAAAAAAA",
          OUTPOST_NATS_OPERATOR_SEED_FILE: `${dir}/op.seed`,
        }),
      /OUTPOST_NATS_OPERATOR_SEED and OUTPOST_NATS_OPERATOR_SEED_FILE are both set/,
    );
    assert.throws(
      () => loadCloudConfig([], { OUTPOST_NATS_ACCOUNT_SEED_FILE: `${dir}/missing` }),
      /OUTPOST_NATS_ACCOUNT_SEED_FILE must name a readable file: current value is '.*missing'/,
    );
    assert.throws(
      () => loadCloudConfig([], { OUTPOST_BROKER: "rabbitmq" }),
      /OUTPOST_BROKER must be one of embedded, mosquitto, nats: current value is 'rabbitmq'/,
    );
    assert.throws(
      () => loadCloudConfig([], { OUTPOST_NATS_URL: "http://x:4222" }),
      /OUTPOST_NATS_URL must be a comma-separated list of URLs .*must be a URL with scheme nats: or tls:/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
