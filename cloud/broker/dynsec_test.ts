import assert from "node:assert/strict";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { createServer, type Server } from "node:net";
import { collectingLogger } from "../testing/fixtures.ts";
import {
  connectDynsec,
  DYNSEC_RESPONSE_TOPIC,
  DYNSEC_TOPIC,
  type DynsecCommand,
  DynsecUnavailableError,
  expectOk,
} from "./dynsec.ts";

// The real plugin is exercised by tests/system/mosquitto_*; here a plain aedes and a stand-in
// responder check the transport: answers matched by correlation data, timeouts, closing.

async function withBroker(
  fn: (
    url: string,
    answer: (reply: (commands: DynsecCommand[]) => unknown) => Promise<void>,
  ) => Promise<void>,
) {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const responders: mqtt.MqttClient[] = [];
  try {
    await fn(url, async (reply) => {
      const responder = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
      responders.push(responder);
      await responder.subscribeAsync(DYNSEC_TOPIC, { qos: 1 });
      responder.on("message", (_topic, payload) => {
        const answer = reply(JSON.parse(payload.toString()).commands);
        if (answer) responder.publish(DYNSEC_RESPONSE_TOPIC, JSON.stringify(answer), { qos: 1 });
      });
    });
  } finally {
    for (const responder of responders) await responder.endAsync(true);
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

Deno.test("dynsec answers are matched to commands by correlation data, ignoring other admins' answers", async () => {
  await withBroker(async (url, answer) => {
    await answer((commands) => ({
      // Another replica's answer first, then ours in reverse order.
      responses: [
        { command: "createClient", correlationData: "someone-else:1", error: "not yours" },
        ...commands.map((c) => ({
          command: c.command,
          correlationData: c.correlationData,
          ...(c.command === "createRole" ? { error: "Role already exists" } : {}),
        })).reverse(),
      ],
    }));
    const { logger } = collectingLogger();
    const control = connectDynsec({
      url,
      username: "admin",
      password: "pw",
      logger,
      protocolVersion: 4,
    });
    try {
      const responses = await control.run([
        { command: "createRole", rolename: "r" },
        { command: "createClient", username: "u" },
      ]);
      assert.deepEqual(responses.map((r) => [r.command, r.error]), [
        ["createRole", "Role already exists"],
        ["createClient", undefined],
      ]);
      expectOk(responses[0], ["Role already exists"]);
      assert.throws(
        () => expectOk(responses[0]),
        /dynsec command 'createRole' failed: Role already exists/,
      );
    } finally {
      await control.close();
    }
  });
});

Deno.test("a dynsec command without an answer fails after the timeout as unavailable", async () => {
  await withBroker(async (url, answer) => {
    await answer(() => undefined);
    const { logger } = collectingLogger();
    const control = connectDynsec({
      url,
      username: "admin",
      password: "pw",
      logger,
      timeoutMs: 300,
      protocolVersion: 4,
    });
    try {
      await assert.rejects(
        control.run([{ command: "listClients" }]),
        (error: Error) =>
          error instanceof DynsecUnavailableError &&
          /did not answer 'listClients'/.test(error.message),
      );
    } finally {
      await control.close();
    }
  });
});

Deno.test("an unreachable broker fails dynsec commands naming the URL and user, never the password", async () => {
  const { logger, lines } = collectingLogger();
  const control = connectDynsec({
    url: "mqtt://127.0.0.1:1",
    username: "admin",
    password: "top-secret-pw",
    logger,
    timeoutMs: 300,
    reconnectPeriod: 0,
  });
  try {
    await assert.rejects(
      control.run([{ command: "listClients" }]),
      (error: Error) =>
        error instanceof DynsecUnavailableError &&
        /mqtt:\/\/127\.0\.0\.1:1 is not reachable as dynsec admin 'admin'/.test(error.message) &&
        !error.message.includes("top-secret-pw"),
    );
    assert.ok(!JSON.stringify(lines).includes("top-secret-pw"));
  } finally {
    await control.close();
  }
  await assert.rejects(control.run([{ command: "listClients" }]), /closed/);
});
