/**
 * A real cloud (with its embedded broker) and real agents as processes, on free loopback
 * ports with temp data dirs, for cross-component tests.
 * @module
 */
import { freePort, type RunningProcess, startTask, waitForOk } from "./process.ts";

/** Tokens used by test stacks (never real secrets). */
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
/** See {@link TEST_ADMIN_TOKEN}. */
export const TEST_ENROLL_TOKEN = "test-enroll-token-0123456789abcdef";

/** A cloud process and how to reach it. */
export interface CloudHandle {
  url: string;
  mqttPort: number;
  dataDir: string;
  process: RunningProcess;
  /** Starts it again on the same ports and data dir (after a kill). */
  restart(extraEnv?: Record<string, string>): Promise<void>;
  admin<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
}

/** Options of {@link startCloud}. */
export interface StartCloudOptions {
  env?: Record<string, string>;
  /** Wait for /readyz (default true). */
  wait?: boolean;
}

/** Starts `deno task cloud` with an embedded broker. */
export async function startCloud(options: StartCloudOptions = {}): Promise<CloudHandle> {
  const dataDir = await Deno.makeTempDir({ prefix: "outpost-cloud-" });
  const port = freePort();
  const mqttPort = freePort();
  const url = `http://127.0.0.1:${port}`;
  const baseEnv = {
    OUTPOST_PORT: String(port),
    OUTPOST_MQTT_PORT: String(mqttPort),
    OUTPOST_DATA_DIR: dataDir,
    OUTPOST_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    OUTPOST_ENROLL_TOKEN: TEST_ENROLL_TOKEN,
    OUTPOST_LOG_LEVEL: "info",
  };
  const handle: CloudHandle = {
    url,
    mqttPort,
    dataDir,
    process: startTask("cloud", { env: { ...baseEnv, ...options.env } }),
    async restart(extraEnv = {}) {
      handle.process = startTask("cloud", { env: { ...baseEnv, ...options.env, ...extraEnv } });
      await waitForOk(`${url}/readyz`, 60_000, handle.process);
    },
    async admin(path, init = {}) {
      const response = await fetch(`${url}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          ...(init.body ? { "content-type": "application/json" } : {}),
          ...init.headers,
        },
      });
      return { status: response.status, body: await response.json() };
    },
  };
  if (options.wait ?? true) await waitForOk(`${url}/readyz`, 60_000, handle.process);
  return handle;
}

/** An agent process and how to reach it. */
export interface AgentHandle {
  url: string;
  deviceId: string;
  dataDir: string;
  process: RunningProcess;
  restart(): Promise<void>;
}

/** Options of {@link startAgentProcess}. */
export interface StartAgentOptions {
  deviceId: string;
  cloudUrl?: string;
  env?: Record<string, string>;
  dataDir?: string;
}

/** Starts `deno task agent` enrolled (or not) to a cloud. */
export async function startAgentProcess(options: StartAgentOptions): Promise<AgentHandle> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "outpost-agent-" });
  const port = freePort();
  const env = {
    OUTPOST_PORT: String(port),
    OUTPOST_DATA_DIR: dataDir,
    OUTPOST_DEVICE_ID: options.deviceId,
    ...(options.cloudUrl
      ? { OUTPOST_CLOUD_URL: options.cloudUrl, OUTPOST_ENROLL_TOKEN: TEST_ENROLL_TOKEN }
      : {}),
    ...options.env,
  };
  const url = `http://127.0.0.1:${port}`;
  const handle: AgentHandle = {
    url,
    deviceId: options.deviceId,
    dataDir,
    process: startTask("agent", { env }),
    async restart() {
      handle.process = startTask("agent", { env });
      await waitForOk(`${url}/readyz`, 60_000, handle.process);
    },
  };
  await waitForOk(`${url}/readyz`, 60_000, handle.process);
  return handle;
}

/** Polls `check` until it returns true or fails with `what` after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${lastError})` : ""}`,
  );
}
