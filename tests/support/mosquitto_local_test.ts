import assert from "node:assert/strict";
import { renderMosquittoConfig, SHIPPED_CONFIG } from "./mosquitto_local.ts";

const BASE = {
  dataDir: "/tmp/outpost-mq",
  port: 18830,
  pluginPath: "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
};

Deno.test("the shipped broker config renders for this machine with every path and port rewritten", async () => {
  const template = await Deno.readTextFile(SHIPPED_CONFIG);
  const config = renderMosquittoConfig(template, {
    ...BASE,
    tls: { port: 18831, certFile: "/tmp/pki/server.crt", keyFile: "/tmp/pki/server.key" },
    user: "root",
  });
  const directives = config.split("\n").filter((line) => line && !line.startsWith("#"));
  assert.ok(!directives.some((line) => line.includes("/mosquitto/")), config);
  for (
    const line of [
      "user root",
      "allow_anonymous false",
      "persistence true",
      `plugin ${BASE.pluginPath}`,
      "plugin_opt_config_file /tmp/outpost-mq/dynamic-security.json",
      "persistence_location /tmp/outpost-mq/",
      "listener 18830 127.0.0.1",
      "listener 18831 127.0.0.1",
      "certfile /tmp/pki/server.crt",
      "keyfile /tmp/pki/server.key",
      "set_tcp_nodelay true",
    ]
  ) {
    assert.ok(directives.includes(line), `missing '${line}' in:\n${config}`);
  }
});

Deno.test("without TLS the TLS listener and its certificate lines are left out", async () => {
  const config = renderMosquittoConfig(await Deno.readTextFile(SHIPPED_CONFIG), BASE);
  assert.equal(config.match(/^listener /gm)?.length, 1);
  assert.doesNotMatch(config, /^(certfile|keyfile|tls_version)/m);
});

Deno.test("a template with a path the renderer does not know is refused, naming the directive", () => {
  const template = "plugin /x.so\nplugin_opt_config_file /d.json\npersistence_location /d/\n" +
    "listener 1883\npassword_file /etc/passwd\n";
  assert.throws(() => renderMosquittoConfig(template, BASE), /directive 'password_file'/);
  assert.throws(
    () => renderMosquittoConfig("listener 1883\n", BASE),
    /no 'plugin' directive/,
  );
});
