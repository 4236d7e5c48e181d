import assert from "node:assert/strict";
import {
  ConfigError,
  enumParser,
  intParser,
  portParser,
  readSettings,
  settingsHelp,
  urlParser,
  wantsHelp,
  wordParser,
} from "./settings.ts";

const specs = {
  port: {
    flag: "port",
    env: "X_PORT",
    parse: portParser(),
    fallback: 8000,
    value: "port",
    help: "The port.",
  },
  level: {
    flag: "log-level",
    env: "X_LEVEL",
    parse: enumParser(["info", "debug"]),
    fallback: "info",
    help: "How much to log.",
  },
  days: {
    flag: "days",
    env: "X_DAYS",
    parse: intParser(1, 10),
    fallback: () => 3,
    defaultText: "three",
    help: "Days to keep.",
  },
  url: {
    flag: "url",
    env: "X_URL",
    parse: urlParser(["http:"]),
    fallback: undefined,
    help: "Where to go.",
  },
  token: {
    flag: "token",
    env: "X_TOKEN",
    parse: wordParser("a token"),
    fallback: undefined,
    secret: true,
    help: "A secret.",
  },
};

Deno.test("settings fall back to defaults when neither flag nor env is set", () => {
  const values = readSettings("test", specs, { args: [], env: {} });
  assert.deepEqual(values, {
    port: 8000,
    level: "info",
    days: 3,
    url: undefined,
    token: undefined,
  });
});

Deno.test("flags override environment variables", () => {
  const values = readSettings("test", specs, {
    args: ["--port", "9001", "--log-level=debug"],
    env: { X_PORT: "9000", X_LEVEL: "info", X_URL: "http://cloud:8080/" },
  });
  assert.equal(values.port, 9001);
  assert.equal(values.level, "debug");
  assert.equal(values.url, "http://cloud:8080");
});

Deno.test("a bad value fails with one line naming the setting, the value and what is allowed", () => {
  assert.throws(
    () => readSettings("agent", specs, { args: [], env: { X_PORT: "abc" } }),
    (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        "Cannot start agent: X_PORT must be a port number (1-65535): current value is 'abc'",
      );
      return true;
    },
  );
  assert.throws(
    () => readSettings("agent", specs, { args: ["--days", "11"], env: {} }),
    /--days must be a whole number from 1 to 10: current value is '11'/,
  );
  assert.throws(
    () => readSettings("agent", specs, { args: [], env: { X_URL: "ftp://x" } }),
    /X_URL must be a URL with scheme http:/,
  );
  assert.throws(
    () => readSettings("agent", specs, { args: [], env: { X_LEVEL: "loud" } }),
    /X_LEVEL must be one of info, debug: current value is 'loud'/,
  );
});

Deno.test("secret settings are not echoed in errors", () => {
  assert.throws(
    () => readSettings("agent", specs, { args: [], env: { X_TOKEN: "has space" } }),
    (error: Error) => !error.message.includes("has space") && /\[redacted\]/.test(error.message),
  );
});

Deno.test("an unknown flag fails naming the known flags", () => {
  assert.throws(
    () => readSettings("agent", specs, { args: ["--prot", "1"], env: {} }),
    /Cannot start agent: .*--prot.*known flags: --port/,
  );
});

Deno.test("the help text lists every setting with its flag, variable, description and default", () => {
  const help = settingsHelp(specs, { summary: "Test thing.", usage: "deno task test [options]" });
  assert.match(help, /^Test thing\.\n\nUsage: deno task test \[options\]/);
  assert.match(help, /--port <port> +X_PORT\n +The port\. Default: 8000\./);
  assert.match(help, /--log-level <value> +X_LEVEL\n +How much to log\. Default: info\./);
  assert.match(help, /--days <value> +X_DAYS\n +Days to keep\. Default: three\./);
  assert.match(help, /--url <value> +X_URL\n +Where to go\. Default: unset\./);
  assert.match(help, /--help\n +Print this help and exit\./);
  for (const spec of Object.values(specs)) assert.ok(help.includes(spec.env), spec.env);
});

Deno.test("wantsHelp sees --help and -h before a --, and nothing else", () => {
  assert.equal(wantsHelp(["--help"]), true);
  assert.equal(wantsHelp(["--port", "1", "-h"]), true);
  assert.equal(wantsHelp(["--port", "1"]), false);
  assert.equal(wantsHelp(["--", "--help"]), false);
  assert.equal(wantsHelp(["--helpful"]), false);
});
