import assert from "node:assert/strict";
import { loadAgentConfig } from "./config.ts";

Deno.test("agent config defaults work for deno task dev", () => {
  const config = loadAgentConfig([], {});
  assert.equal(config.port, 8000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.dataDir, ".data/agent");
  assert.equal(config.retentionDays, 30);
  assert.equal(config.logLevel, "info");
  assert.equal(config.cloudUrl, undefined);
  assert.match(config.deviceId, /^[a-z0-9][a-z0-9_.-]*$/);
});

Deno.test("agent flags override OUTPOST_* environment variables", () => {
  const config = loadAgentConfig(["--port", "9100", "--device-id=pi-7"], {
    OUTPOST_PORT: "9000",
    OUTPOST_DEVICE_ID: "ignored",
    OUTPOST_CLOUD_URL: "http://127.0.0.1:8080",
    OUTPOST_RETENTION_DAYS: "7",
  });
  assert.equal(config.port, 9100);
  assert.equal(config.deviceId, "pi-7");
  assert.equal(config.cloudUrl, "http://127.0.0.1:8080");
  assert.equal(config.retentionDays, 7);
});

Deno.test("bad agent settings fail naming the setting and the value", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { OUTPOST_PORT: "abc" },
      /Cannot start agent: OUTPOST_PORT must be a port number \(0-65535\): current value is 'abc'$/,
    ],
    [{ OUTPOST_PORT: "70000" }, /OUTPOST_PORT .*'70000'/],
    [{ OUTPOST_DEVICE_ID: "../etc" }, /OUTPOST_DEVICE_ID must be .*'\.\.\/etc'/],
    [{ OUTPOST_CLOUD_URL: "cloud:8080" }, /OUTPOST_CLOUD_URL must be a URL/],
    [
      { OUTPOST_MQTT_URL: "http://x" },
      /OUTPOST_MQTT_URL must be a comma-separated list of URLs .*item 1 of 1, 'http:\/\/x', must be a URL with scheme mqtt:/,
    ],
    [
      { OUTPOST_RETENTION_DAYS: "0" },
      /OUTPOST_RETENTION_DAYS must be a whole number from 1 to 3650/,
    ],
    [{ OUTPOST_LOG_LEVEL: "verbose" }, /OUTPOST_LOG_LEVEL must be one of debug, info, warn, error/],
    [{ OUTPOST_API_TOKEN: "short" }, /OUTPOST_API_TOKEN must be .*\[redacted\]/],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadAgentConfig([], env), pattern, JSON.stringify(env));
  }
});

Deno.test("OUTPOST_MQTT_ALLOW_PLAINTEXT is off by default and takes only true or false", () => {
  assert.equal(loadAgentConfig([], {}).mqttAllowPlaintext, false);
  assert.equal(
    loadAgentConfig([], { OUTPOST_MQTT_ALLOW_PLAINTEXT: "true" }).mqttAllowPlaintext,
    true,
  );
  assert.throws(
    () => loadAgentConfig([], { OUTPOST_MQTT_ALLOW_PLAINTEXT: "maybe" }),
    /OUTPOST_MQTT_ALLOW_PLAINTEXT must be true or false: current value is 'maybe'/,
  );
});

Deno.test("an http:// cloud URL is refused unless it is loopback or plaintext is allowed", () => {
  assert.throws(
    () => loadAgentConfig([], { OUTPOST_CLOUD_URL: "http://10.0.0.5:8080" }),
    /OUTPOST_CLOUD_URL 'http:\/\/10\.0\.0\.5:8080' would send the enrollment token in plaintext: use https:\/\/, or set OUTPOST_MQTT_ALLOW_PLAINTEXT=true/,
  );
  for (
    const url of ["https://cloud.example.com", "http://127.0.0.1:8080", "http://localhost:8080"]
  ) {
    assert.equal(loadAgentConfig([], { OUTPOST_CLOUD_URL: url }).cloudUrl, url);
  }
  const trusted = loadAgentConfig(["--mqtt-allow-plaintext=true"], {
    OUTPOST_CLOUD_URL: "http://outpost-cloud.outpost-cloud.svc:8080",
  });
  assert.equal(trusted.cloudUrl, "http://outpost-cloud.outpost-cloud.svc:8080");
});

Deno.test("OUTPOST_LABELS and --labels give the labels sent at enrollment; a bad one names itself", () => {
  assert.deepEqual(loadAgentConfig([], {}).labels, {});
  assert.deepEqual(loadAgentConfig([], { OUTPOST_LABELS: "site=berlin,role=gateway" }).labels, {
    site: "berlin",
    role: "gateway",
  });
  assert.deepEqual(
    loadAgentConfig(["--labels", "tier=a"], { OUTPOST_LABELS: "site=x" }).labels,
    { tier: "a" },
  );
  assert.throws(
    () => loadAgentConfig([], { OUTPOST_LABELS: "site=berlin,role=gate way" }),
    /Cannot start agent: OUTPOST_LABELS must be key=value pairs .*label value 'gate way' of 'role' is invalid.*: current value is 'site=berlin,role=gate way'$/,
  );
  assert.throws(() => loadAgentConfig(["--labels=site"], {}), /--labels .*'site' is not key=value/);
});

Deno.test("OUTPOST_MQTT_URL takes one broker URL or several, in order, and names a bad item", () => {
  assert.equal(loadAgentConfig([], {}).mqttUrls, undefined);
  assert.deepEqual(
    loadAgentConfig([], { OUTPOST_MQTT_URL: "mqtts://n1.example:8883/" }).mqttUrls,
    ["mqtts://n1.example:8883"],
  );
  assert.deepEqual(
    loadAgentConfig(["--mqtt-url", "mqtts://n2:8883, mqtts://n1:8883,wss://n3/mqtt"], {})
      .mqttUrls,
    ["mqtts://n2:8883", "mqtts://n1:8883", "wss://n3/mqtt"],
  );
  const cases: [string, RegExp][] = [
    ["mqtts://n1:8883,,mqtts://n2:8883", /item 2 of 3 is empty: current value is/],
    ["mqtts://n1:8883,", /item 2 of 2 is empty/],
    [",", /item 1 of 2 is empty/],
    ["mqtts://n1:8883,http://n2:80", /item 2 of 2, 'http:\/\/n2:80', must be a URL with scheme/],
    ["mqtts://n1:8883,n2:8883", /item 2 of 2, 'n2:8883', must be a URL/],
    ["mqtts://n1:8883,mqtts://n1:8883/", /item 2 of 2, 'mqtts:\/\/n1:8883\/', is listed twice/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => loadAgentConfig([], { OUTPOST_MQTT_URL: value }),
      (error: Error) => {
        assert.match(error.message, /^Cannot start agent: OUTPOST_MQTT_URL must be a comma-sep/);
        assert.match(error.message, pattern);
        return true;
      },
      value,
    );
  }
});
