/**
 * A real Mosquitto 2 for system tests, started from the shipped config (rendered by
 * `tests/support/mosquitto_local.ts`) on free loopback ports with its own data dir and dynsec
 * file; never the system's broker. Plus a cloud process wired to it.
 * @module
 */
import {
  connectDynsec,
  type DynsecCommand,
  type DynsecResponse,
} from "@outpost/cloud/broker/dynsec";
import { prepareLocalMosquitto } from "./mosquitto_local.ts";
import { createLogger } from "@outpost/platform/log";
import { requireTool } from "../manifests/kube.ts";
import { freePort } from "./process.ts";
import { type CloudHandle, eventually, startCloud } from "./stack.ts";
import type { TestPki } from "./tls.ts";

/** The dynsec admin of test brokers (never a real secret). */
export const TEST_DYNSEC_ADMIN = {
  username: "outpost-admin",
  password: "test-dynsec-admin-0123456789abcdef",
};

/** A running test broker. */
export interface TestMosquitto {
  /** `mqtt://127.0.0.1:<port>` (loopback plaintext). */
  url: string;
  /** `mqtts://127.0.0.1:<port>` when started with a PKI. */
  tlsUrl?: string;
  dir: string;
  /** Broker log lines of every run so far (filled when a run ends). */
  output: string[];
  /** SIGTERM (Mosquitto saves its database on the way out) and wait for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same ports, config and data. */
  start(): Promise<void>;
  /** Stops it and removes its data dir. */
  dispose(): Promise<void>;
}

/** Options of {@link startMosquitto}. */
export interface StartMosquittoOptions {
  /** Adds the TLS listener with this PKI's server certificate. */
  tls?: TestPki;
}

async function waitForPort(port: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error("mosquitto exited at start");
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within 10 s`);
}

/** Starts Mosquitto with dynamic security on free ports. */
export async function startMosquitto(options: StartMosquittoOptions = {}): Promise<TestMosquitto> {
  const mosquitto = requireTool("mosquitto", "mosquitto");
  const dir = await Deno.makeTempDir({ prefix: "outpost-mosquitto-" });
  const port = freePort();
  const tlsPort = options.tls ? freePort() : undefined;
  const config = await prepareLocalMosquitto({
    dir,
    port,
    tls: options.tls && {
      port: tlsPort!,
      certFile: options.tls.serverCert,
      keyFile: options.tls.serverKey,
    },
    adminUsername: TEST_DYNSEC_ADMIN.username,
    adminPassword: TEST_DYNSEC_ADMIN.password,
  });
  const output: string[] = [];
  let child: Deno.ChildProcess | undefined;
  let logs: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    const process = new Deno.Command(mosquitto, {
      args: ["-c", config],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child = process;
    let exited = false;
    process.status.then(() => exited = true);
    logs = Promise.all([new Response(process.stdout).text(), new Response(process.stderr).text()])
      .then((texts) => void output.push(...texts.join("").split("\n")));
    try {
      await waitForPort(tlsPort ?? port, () => exited);
      if (tlsPort) await waitForPort(port, () => exited);
    } catch (error) {
      await stop();
      throw new Error(`${(error as Error).message}:\n${output.join("\n")}`);
    }
  }

  async function stop(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running) return;
    try {
      running.kill("SIGTERM");
    } catch {
      // already gone
    }
    await running.status;
    await logs;
  }

  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    tlsUrl: tlsPort ? `mqtts://127.0.0.1:${tlsPort}` : undefined,
    dir,
    output,
    start,
    stop,
    async dispose() {
      await stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Runs dynsec commands as the test admin over a short-lived connection. */
export async function dynsec(
  broker: TestMosquitto,
  commands: DynsecCommand[],
): Promise<DynsecResponse[]> {
  const control = connectDynsec({
    url: broker.url,
    ...TEST_DYNSEC_ADMIN,
    logger: createLogger({ write: () => {} }),
    reconnectPeriod: 0,
  });
  try {
    return await control.run(commands);
  } finally {
    await control.close();
  }
}

/** Options of {@link startMosquittoCloud}. */
export interface MosquittoCloudOptions {
  /** What devices get at enrollment; default the broker's plaintext loopback URL. */
  publicUrl?: string;
  env?: Record<string, string>;
}

/**
 * Starts a cloud process whose broker is `broker` (as dynsec admin over loopback) and waits
 * until its ingest is subscribed, so nothing devices send first is dropped for want of a
 * subscriber.
 */
export async function startMosquittoCloud(
  broker: TestMosquitto,
  options: MosquittoCloudOptions = {},
): Promise<CloudHandle> {
  const cloud = await startCloud({
    env: {
      OUTPOST_MQTT_URL: broker.url,
      OUTPOST_MQTT_USERNAME: TEST_DYNSEC_ADMIN.username,
      OUTPOST_MQTT_PASSWORD: TEST_DYNSEC_ADMIN.password,
      OUTPOST_MQTT_PUBLIC_URL: options.publicUrl ?? broker.url,
      ...options.env,
    },
  });
  await waitIngestSubscribed(cloud);
  return cloud;
}

/** Waits for the cloud's `subscribed to uplink` log line (after a start or a reconnect). */
export async function waitIngestSubscribed(cloud: CloudHandle, after = 0): Promise<void> {
  await eventually(
    () =>
      Promise.resolve(
        cloud.process.output.slice(after).some((line) => line.includes('"subscribed to uplink"')),
      ),
    "the cloud's ingest to subscribe to the uplink",
    30_000,
  ).catch((error) => {
    throw new Error(`${error.message}\n${cloud.process.output.slice(-20).join("\n")}`);
  });
}
