/**
 * The system under test as supervised processes: one cloud on the chaos bridge with its broker
 * (embedded, Mosquitto beside it, or a 3-node NATS cluster in namespaces of its own), workload agents inside their network namespaces with their data dir on a small tmpfs
 * and their clock under libfaketime, and a fuzz agent on loopback. A process that exits when no
 * fault asked it to is reported (a crash is a violation) and restarted by the scheduler.
 * @module
 */
import { join } from "node:path";
import { prepareLocalMosquitto } from "../support/mosquitto_local.ts";
import { type RunningProcess, spawnProcess, startTask, waitForOk } from "../support/process.ts";
import { TEST_DYNSEC_ADMIN } from "../support/mosquitto.ts";
import { TEST_ADMIN_TOKEN, TEST_ENROLL_TOKEN } from "../support/stack.ts";
import { Component, type ExitReport } from "./component.ts";
import { faketimeEnv } from "./faults/faketime.ts";
import { type ChaosNats, startNats } from "./nats.ts";
import { run, tryRun } from "./shell.ts";
import type { Topology } from "./topology.ts";

export { Component, type ExitReport };

/**
 * The chaos cloud's `OUTPOST_MAX_SEQ_GAP`: wide enough for the ingest fuzzer's hostile zone
 * (its batches start at 10⁹ and stay below 2·10⁹ in a run), so the fuzz still tests what lies
 * inside it; batches beyond it (the fuzzer's "implausible" inputs) must be refused.
 */
export const CHAOS_MAX_SEQ_GAP = 2_000_000_000;

/** The fuzz agent's API token, so the fuzzer can pass auth and reach validation. */
export const FUZZ_API_TOKEN = "chaos-fuzz-api-token-0123456789";

/** A workload agent: its component, network place, data disk and clock file. */
export interface ChaosAgent {
  index: number;
  deviceId: string;
  component: Component;
  /** The tmpfs mount holding `data/`. */
  mountPoint: string;
  dataDir: string;
  /** The libfaketime file: `+0`, `+1d`, `-1d`. */
  clockFile: string;
}

/** A Mosquitto broker whose persistence each (re)start may switch on or off. */
export interface ChaosBroker {
  component: Component;
  url: string;
  /** Writes `persistence true|false` into its config for the next start. */
  setPersistence(on: boolean): Promise<void>;
}

/** Which broker the cloud and agents use. */
export type BrokerKind = "mosquitto" | "embedded" | "nats";

/** Every broker kind, as `--broker` takes them. */
export const BROKER_KINDS: readonly BrokerKind[] = ["mosquitto", "embedded", "nats"];

/** The running system. */
export interface Cluster {
  cloud: Component;
  /** Mosquitto, or undefined with the cloud's embedded broker or NATS. */
  broker?: ChaosBroker;
  /** The NATS cluster with `--broker=nats`. */
  nats?: ChaosNats;
  cloudDataDir: string;
  cloudUrl: string;
  agents: ChaosAgent[];
  fuzzAgent: { deviceId: string; component: Component; dataDir: string };
  adminToken: string;
  enrollToken: string;
  /** Stops every process and unmounts the data disks. */
  shutdown(): Promise<void>;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  runDir: string;
  topology: Topology;
  libfaketime: string;
  /** Size of each agent's tmpfs, e.g. `256m`. */
  diskSize: string;
  broker: BrokerKind;
  /**
   * The longest the broker can be unavailable to a restarting cloud: a cloud kill may overlap a
   * broker pause (they lock different things), and the cloud then subscribes only after it.
   */
  maxBrokerOutageMs: number;
  onExit: (report: ExitReport) => void;
}

async function waitForPort(hostname: string, port: number, process: RunningProcess) {
  const deadline = Date.now() + 20_000;
  let exited = false;
  process.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname, port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(
    `mosquitto did not listen on ${hostname}:${port}:\n${process.output.slice(-10).join("\n")}`,
  );
}

async function startBroker(
  runDir: string,
  host: string,
  onExit: (report: ExitReport) => void,
): Promise<ChaosBroker> {
  const port = await freePortOn(host);
  const config = await prepareLocalMosquitto({
    dir: join(runDir, "mosquitto"),
    port,
    host,
    adminUsername: TEST_DYNSEC_ADMIN.username,
    adminPassword: TEST_DYNSEC_ADMIN.password,
  });
  const component = new Component({
    name: "mosquitto",
    url: `mqtt://${host}:${port}`,
    launch: () => spawnProcess("mosquitto", ["-c", config]),
    ready: (process) => waitForPort(host, port, process),
    direct: true,
    onExit,
  });
  await component.start();
  return {
    component,
    url: component.url,
    async setPersistence(on) {
      const text = await Deno.readTextFile(config);
      if (!/^persistence (true|false)$/m.test(text)) {
        throw new Error(`${config} has no 'persistence true|false' line to switch`);
      }
      await Deno.writeTextFile(
        config,
        text.replace(/^persistence (true|false)$/m, `persistence ${on}`),
      );
    },
  };
}

async function freePortOn(hostname: string): Promise<number> {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  // Give the kernel a moment; the port is reused at once by the component.
  await new Promise((resolve) => setTimeout(resolve, 10));
  return port;
}

/** Starts the cloud, the workload agents (in their namespaces) and the fuzz agent. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { runDir, topology } = options;
  const host = topology.cloudAddress;
  const cloudPort = await freePortOn(host);
  const mqttPort = await freePortOn(host);
  const cloudDataDir = join(runDir, "cloud");
  const cloudUrl = `http://${host}:${cloudPort}`;
  const broker = options.broker === "mosquitto"
    ? await startBroker(runDir, host, options.onExit)
    : undefined;
  const nats = options.broker === "nats"
    ? await startNats({
      runDir,
      nodes: topology.brokerNodes,
      execPrefix: topology.brokerExecPrefix,
      onExit: options.onExit,
    })
    : undefined;
  const cloudEnv = {
    ...(nats?.cloudEnv ?? {}),
    ...(broker
      ? {
        OUTPOST_MQTT_URL: broker.url,
        OUTPOST_MQTT_USERNAME: TEST_DYNSEC_ADMIN.username,
        OUTPOST_MQTT_PASSWORD: TEST_DYNSEC_ADMIN.password,
        OUTPOST_MQTT_PUBLIC_URL: broker.url,
      }
      : {}),
    OUTPOST_HOST: host,
    OUTPOST_PORT: String(cloudPort),
    OUTPOST_MQTT_PORT: String(mqttPort),
    OUTPOST_DATA_DIR: cloudDataDir,
    OUTPOST_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    OUTPOST_ENROLL_TOKEN: TEST_ENROLL_TOKEN,
    OUTPOST_LOG_LEVEL: "info",
    OUTPOST_MAX_SEQ_GAP: String(CHAOS_MAX_SEQ_GAP),
  };
  const cloud = new Component({
    name: "cloud",
    url: cloudUrl,
    launch: (extra) => startTask("cloud", { env: { ...cloudEnv, ...extra } }),
    onExit: options.onExit,
    // With Mosquitto, wait for the ingest's subscription too: a shared subscription with no
    // subscriber drops what agents publish (they resend after the ack timeout, but slowly).
    ready: async (process) => {
      await waitForOk(`${cloudUrl}/readyz`, 60_000, process);
      if (!broker) return;
      // Measured on a monotonic clock: the chaos runner's own clock is not skewed, but a
      // deadline must not depend on the wall clock anyway.
      const deadline = performance.now() + 30_000 + options.maxBrokerOutageMs;
      while (!process.output.some((line) => line.includes('"subscribed to uplink"'))) {
        if (performance.now() > deadline) {
          throw new Error(
            `the cloud's ingest did not subscribe:\n${process.output.slice(-10).join("\n")}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  });
  const mounts: string[] = [];
  const agents: ChaosAgent[] = [];
  const shutdown = async () => {
    const components = [
      ...agents.map((a) => a.component),
      fuzzAgent?.component,
      cloud,
      broker?.component,
      ...(nats?.nodes ?? []),
    ];
    for (const component of components) {
      if (component?.running) await component.kill("SIGTERM");
    }
    for (const mount of mounts.splice(0)) await tryRun("umount", ["-l", mount]);
  };
  let fuzzAgent: Cluster["fuzzAgent"] | undefined;
  try {
    await cloud.start();
    for (const net of topology.agents) {
      const deviceId = `chaos-a${net.index}`;
      const mountPoint = join(runDir, `disk-a${net.index}`);
      await Deno.mkdir(mountPoint, { recursive: true });
      await run("mount", ["-t", "tmpfs", "-o", `size=${options.diskSize}`, "tmpfs", mountPoint]);
      mounts.push(mountPoint);
      const dataDir = join(mountPoint, "data");
      const clockFile = join(runDir, `clock-a${net.index}`);
      await Deno.writeTextFile(clockFile, "+0\n");
      const env = {
        OUTPOST_HOST: net.lanAddress,
        OUTPOST_PORT: "8000",
        OUTPOST_DATA_DIR: dataDir,
        OUTPOST_DEVICE_ID: deviceId,
        OUTPOST_CLOUD_URL: cloudUrl,
        OUTPOST_ENROLL_TOKEN: TEST_ENROLL_TOKEN,
        OUTPOST_LOG_LEVEL: "info",
        // The broker is across our own veth pair, a private test link: no TLS here.
        OUTPOST_MQTT_ALLOW_PLAINTEXT: "true",
        ...faketimeEnv(options.libfaketime, clockFile),
      };
      const component = new Component({
        name: deviceId,
        url: `http://${net.lanAddress}:8000`,
        launch: (extra) =>
          startTask("agent", { env: { ...env, ...extra }, prefix: topology.execPrefix(net.index) }),
        onExit: options.onExit,
      });
      agents.push({ index: net.index, deviceId, component, mountPoint, dataDir, clockFile });
      await component.start();
    }
    const fuzzDataDir = join(runDir, "fuzz-agent");
    const fuzzPort = await freePortOn("127.0.0.1");
    const fuzzEnv = {
      OUTPOST_PORT: String(fuzzPort),
      OUTPOST_DATA_DIR: fuzzDataDir,
      OUTPOST_DEVICE_ID: "chaos-fuzz",
      OUTPOST_API_TOKEN: FUZZ_API_TOKEN,
      OUTPOST_MQTT_ALLOW_PLAINTEXT: "true",
      OUTPOST_CLOUD_URL: cloudUrl,
      OUTPOST_ENROLL_TOKEN: TEST_ENROLL_TOKEN,
      OUTPOST_LOG_LEVEL: "info",
    };
    const fuzzComponent = new Component({
      name: "chaos-fuzz",
      url: `http://127.0.0.1:${fuzzPort}`,
      launch: (extra) => startTask("agent", { env: { ...fuzzEnv, ...extra } }),
      onExit: options.onExit,
    });
    fuzzAgent = { deviceId: "chaos-fuzz", component: fuzzComponent, dataDir: fuzzDataDir };
    await fuzzComponent.start();
  } catch (error) {
    await shutdown();
    throw error;
  }
  return {
    cloud,
    broker,
    nats,
    cloudDataDir,
    cloudUrl,
    agents,
    fuzzAgent,
    adminToken: TEST_ADMIN_TOKEN,
    enrollToken: TEST_ENROLL_TOKEN,
    shutdown,
  };
}
