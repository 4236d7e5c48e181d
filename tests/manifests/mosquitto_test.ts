import assert from "node:assert/strict";
import mqtt from "mqtt";
import { freePort, replaceOnce, REPO_ROOT, requireTool, runCommand } from "./kube.ts";

const CONF = `${REPO_ROOT}k8s/base/mosquitto/mosquitto.conf`;
const IMAGE_PLUGIN = "/usr/lib/mosquitto_dynamic_security.so";

/** Lines the broker config must hold, as written (paths of the eclipse-mosquitto image). */
const REQUIRED_LINES = [
  "per_listener_settings false",
  "allow_anonymous false",
  `plugin ${IMAGE_PLUGIN}`,
  "plugin_opt_config_file /mosquitto/data/dynamic-security.json",
  "persistence true",
  "persistence_location /mosquitto/data/",
  "listener 1883",
  "listener 8883",
  "certfile /mosquitto/certs/tls.crt",
  "keyfile /mosquitto/certs/tls.key",
];

/** Where Debian's mosquitto package puts the dynamic-security plugin (the image: /usr/lib). */
function hostPlugin(): string {
  for (const dir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]) {
    const path = `${dir}/mosquitto_dynamic_security.so`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next directory
    }
  }
  throw new Error("Missing mosquitto_dynamic_security.so: apt-get install -y mosquitto");
}

async function waitForPort(port: number, broker: Deno.ChildProcess): Promise<void> {
  let exited = false;
  broker.status.then(() => exited = true);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    assert.ok(!exited, "mosquitto exited at start");
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`mosquitto did not listen on ${port} within 10 s`);
}

Deno.test("the committed broker config loads dynamic security and persistence as written", async () => {
  const conf = await Deno.readTextFile(CONF);
  for (const line of REQUIRED_LINES) {
    assert.match(conf, new RegExp(`^${line.replaceAll(".", "\\.")}$`, "m"), line);
  }
});

Deno.test("a real Mosquitto with this config refuses anonymous clients and serves the dynsec admin over TLS", async () => {
  const mosquitto = requireTool("mosquitto", "mosquitto");
  const mosquittoCtrl = requireTool("mosquitto_ctrl", "mosquitto");
  const openssl = requireTool("openssl", "openssl");
  const dir = await Deno.makeTempDir({ prefix: "outpost-mosquitto-" });
  const plainPort = freePort();
  const tlsPort = freePort();
  const password = crypto.randomUUID();
  for (const sub of ["config", "data", "certs"]) await Deno.mkdir(`${dir}/${sub}`);
  const cert = await runCommand(openssl, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/certs/tls.key`,
    "-out",
    `${dir}/certs/tls.crt`,
  ]);
  assert.equal(cert.code, 0, cert.stderr);
  // What the dynsec-init container does on first start.
  const init = await runCommand(mosquittoCtrl, [
    "dynsec",
    "init",
    `${dir}/data/dynamic-security.json`,
    "outpost-admin",
    password,
  ]);
  assert.equal(init.code, 0, init.stderr);

  let conf = await Deno.readTextFile(CONF);
  conf = replaceOnce(conf, IMAGE_PLUGIN, hostPlugin());
  conf = replaceOnce(conf, "\nlistener 1883\n", `\nlistener ${plainPort} 127.0.0.1\n`);
  conf = replaceOnce(conf, "\nlistener 8883\n", `\nlistener ${tlsPort} 127.0.0.1\n`);
  conf = conf.replaceAll("/mosquitto/", `${dir}/`);
  // In the pod it runs as uid 1883; started as root here it would switch to "mosquitto".
  if (Deno.uid() === 0) conf = `user root\n${conf}`;
  await Deno.writeTextFile(`${dir}/config/mosquitto.conf`, conf);

  const broker = new Deno.Command(mosquitto, {
    args: ["-c", `${dir}/config/mosquitto.conf`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log = Promise.all([new Response(broker.stdout).text(), new Response(broker.stderr).text()]);
  const clients: mqtt.MqttClient[] = [];
  let passed = false;
  try {
    await waitForPort(tlsPort, broker);
    const options = { reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 5 as const };

    await assert.rejects(
      mqtt.connectAsync(`mqtt://127.0.0.1:${plainPort}`, options),
      /not authori[sz]ed/i,
      "an anonymous client is refused",
    );
    const ca = await Deno.readTextFile(`${dir}/certs/tls.crt`);
    await assert.rejects(
      mqtt.connectAsync(`mqtts://localhost:${tlsPort}`, {
        ...options,
        ca,
        username: "outpost-admin",
        password: "wrong",
      }),
      /not authori[sz]ed|bad user name or password/i,
      "a wrong password is refused",
    );

    const admin = await mqtt.connectAsync(`mqtts://localhost:${tlsPort}`, {
      ...options,
      ca,
      username: "outpost-admin",
      password,
    });
    clients.push(admin);
    const response = new Promise<string>((resolve) => {
      admin.on("message", (_topic, payload) => resolve(payload.toString()));
    });
    await admin.subscribeAsync("$CONTROL/dynamic-security/v1/response", { qos: 1 });
    await admin.publishAsync(
      "$CONTROL/dynamic-security/v1",
      JSON.stringify({ commands: [{ command: "listClients" }] }),
      { qos: 1 },
    );
    const answer = JSON.parse(await response);
    assert.deepEqual(answer.responses[0].data.clients, ["outpost-admin"]);
    passed = true;
  } finally {
    for (const client of clients) await client.endAsync();
    broker.kill("SIGTERM");
    await broker.status;
    const [stdout, stderr] = await log;
    if (!passed) {
      console.error(`mosquitto output:\n${stdout}${stderr}`);
      await Deno.remove(dir, { recursive: true });
    }
  }
  try {
    // Persistence: the broker wrote its database to the volume on the way out.
    assert.ok((await Deno.stat(`${dir}/data/mosquitto.db`)).isFile, "mosquitto.db was written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
